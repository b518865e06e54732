// The server's entry point: `node --import tsx server/main.ts` (npm run serve / npm start).
import { CLOSE_CODES } from '../protocol/index.js';
import { ConfigError, ENV_VARS, loadConfig } from './config.js';
import { openAccessNotice, protectedModeRefusal } from './protected-mode.js';
import { startServer } from './serve.js';

const USAGE = `Usage: node --import tsx server/main.ts [--help]

Serves the agent-task-status HTTP API, its WebSocket, the widget and the demo.
Configuration comes from environment variables (blank counts as unset):
`;

function help(): string {
  const specs = Object.values(ENV_VARS);
  const width = Math.max(...specs.map((spec) => spec.name.length)) + 2;
  const rows = specs.map(
    (spec) =>
      `  ${spec.name.padEnd(width)}${spec.meaning}\n  ${' '.repeat(width)}default: ${spec.default ?? '(unset)'}`,
  );
  return `${USAGE}\n${rows.join('\n')}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  // The AWS SDK warns on every start under Node 20 that its releases after January 2027 need
  // Node 22. The lockfile pins a release that supports Node 20 and the README says so; the
  // warning would only alarm. Set the variable to anything else to see it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help());
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`unknown argument: ${argv.join(' ')}\n\n${help()}`);
    return 1;
  }

  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nRun with --help to see every setting.\n`);
      return 1;
    }
    throw error;
  }
  const refusal = protectedModeRefusal(config);
  if (refusal !== null) {
    process.stderr.write(`${refusal}\n`);
    return 1;
  }

  const server = await startServer({ config });
  console.log(`agent-task-status listening on ${server.url} (store: ${server.storeDescription})`);
  const notice = openAccessNotice(config);
  if (notice !== null) console.warn(notice);

  // SIGTERM is how orchestrators (Kubernetes, systemd, docker stop) restart a service: tell the
  // WebSocket clients to come back (1012, so they spread their reconnects) and let writes in
  // flight finish. Ctrl-C stops it for good (1001).
  let stopping = false;
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    if (stopping) {
      // A second Ctrl-C: the user does not want to wait for connections to drain. A second
      // SIGTERM is often the same stop twice (npm forwards the one its process group got).
      if (signal === 'SIGINT') process.exit(1);
      return;
    }
    stopping = true;
    // Behind a load balancer: unready first, so it stops sending new connections here before the
    // sockets are told to reconnect (to another instance).
    server.drain();
    const delay = signal === 'SIGTERM' ? config.drainDelayMs : 0;
    if (delay > 0) console.log(`${signal}: unready, closing connections in ${delay} ms...`);
    else console.log(`${signal}: closing connections...`);
    sleep(delay)
      .then(() => server.close(signal === 'SIGTERM' ? CLOSE_CODES.serviceRestart : CLOSE_CODES.goingAway))
      .then(
        () => {
          console.log('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          console.error('error while closing', error);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return -1; // keep running
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`agent-task-status failed to start: ${message}`);
    process.exit(1);
  },
);
