/**
 * The HAProxy configuration of the local cluster (issue 14): one frontend, the instances behind
 * it, health-checked on /readyz. Pure: the cluster writes it to a file.
 *
 * - WebSockets: `mode http` passes the Upgrade through; `timeout tunnel` then bounds an idle
 *   socket (ours ping every HEARTBEAT_MS, far less than an hour).
 * - No sticky sessions: any instance serves any socket (the Redis bus) and any poll (the store).
 * - An instance is out after 2 failed checks a second apart (a SIGTERM's /readyz 503, or a dead
 *   process), back after 2 good ones; DRAIN_DELAY_MS must outlast that, so it is out before its
 *   sockets are told to come back. A connection refused by a dead instance, or an upgrade refused
 *   by a draining one (503), is retried on another.
 * - `option forwardfor` with the instances' TRUSTED_PROXIES: per-address limits see the client.
 * - `/demo/api` goes to the first instance only: it runs the demo's simulated agents, and its
 *   chaos controls act on that instance.
 */
export interface HaproxyConfigInput {
  port: number;
  instances: readonly { name: string; port: number }[];
  /** The instance that serves /demo/api; none: no demo routes. */
  demoInstance?: string;
}

export function haproxyConfig({ port, instances, demoInstance }: HaproxyConfigInput): string {
  const servers = instances.map(
    ({ name, port: serverPort }) => `  server ${name} 127.0.0.1:${serverPort} check`,
  );
  const demo = instances.find((instance) => instance.name === demoInstance);
  return [
    'global',
    '  maxconn 4000',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 1h',
    '  option forwardfor',
    '  option redispatch 1',
    '  retries 2',
    // A draining instance refuses upgrades with 503 until the checks take it out: try another.
    '  retry-on conn-failure empty-response response-timeout 503',
    '',
    'frontend web',
    `  bind 127.0.0.1:${port}`,
    // Only an upgrade is replayed after a 503 or an empty answer: a POST may have been stored (the
    // agent retries it with its Idempotency-Key). A connection refused is retried for every request.
    '  http-request disable-l7-retry if !{ req.hdr(upgrade) -i websocket }',
    ...(demo ? ['  use_backend demo if { path_beg /demo/api }'] : []),
    '  default_backend instances',
    '',
    'backend instances',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  default-server inter 1s fall 2 rise 2',
    ...servers,
    ...(demo
      ? ['', 'backend demo', `  server ${demo.name} 127.0.0.1:${demo.port} check inter 1s fall 2 rise 2`]
      : []),
    '',
  ].join('\n');
}
