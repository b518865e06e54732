import { Hono } from 'hono';
import type { AppEnv } from '../http/app-env.js';
import { requireMetricsAccess } from '../http/auth.js';
import { renderPrometheus, type Family, type HttpMetrics } from '../http/metrics.js';
import type { Readiness } from '../http/readiness.js';
import type { Realtime } from '../realtime/realtime.js';
import type { EmbeddedDynaliteStats } from '../store/dynamodb/embedded-dynalite.js';
import { openApiDocument } from '../openapi/openapi-document.js';

export interface OpsDeps {
  metrics: HttpMetrics;
  realtime?: Realtime | undefined;
  /** The embedded dynalite's figures; absent when the store is elsewhere (or in memory). */
  embeddedStats?: (() => Promise<EmbeddedDynaliteStats>) | undefined;
  /** METRICS_TOKEN; null: /metrics for loopback clients only. */
  metricsToken: string | null;
  /** For /readyz; absent: ready whenever the process answers. */
  readiness?: Readiness | undefined;
}

/** Liveness, readiness and Prometheus metrics, for operators and load balancers. */
export function opsRoutes({ metrics, realtime, embeddedStats, metricsToken, readiness }: OpsDeps) {
  return new Hono<AppEnv>()
    .get('/openapi.json', (c) => {
      c.header('Cache-Control', 'public, max-age=300');
      return c.json(openApiDocument(), 200);
    })
    .get('/healthz', (c) => {
      c.header('Cache-Control', 'no-store');
      return c.json({ ok: true }, 200);
    })
    .get('/readyz', async (c) => {
      c.header('Cache-Control', 'no-store');
      const report = (await readiness?.report()) ?? {
        ready: true,
        draining: false,
        store: 'ok',
        redis: 'not used',
      };
      return c.json(report, report.ready ? 200 : 503);
    })
    .get('/metrics', requireMetricsAccess(metricsToken), async (c) => {
      const families: Family[] = [
        gauge('process_uptime_seconds', 'Seconds since the process started.', process.uptime()),
        ...memoryFamilies(),
        metrics.family(),
      ];
      if (realtime) {
        const stats = realtime.stats();
        families.push(
          gauge('agent_task_status_ws_connections', 'Open WebSocket connections.', stats.connections),
          gauge('agent_task_status_ws_subscriptions', 'Task and agent subscriptions.', stats.subscriptions),
          counter(
            'agent_task_status_ws_delivered_total',
            'Events delivered to WebSocket subscribers.',
            stats.delivered,
          ),
        );
      }
      if (embeddedStats) families.push(...dynaliteFamilies(await embeddedStats()));
      c.header('Cache-Control', 'no-store');
      return c.text(renderPrometheus(families), 200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      });
    });
}

/**
 * Where the process's memory is: a growing RSS with a flat heap is native memory (issue 18: LevelDB
 * iterators nobody closed), a growing heap is JavaScript objects kept alive.
 */
const MEMORY_GAUGES = [
  ['process_resident_memory_bytes', 'Resident set size.', 'rss'],
  ['nodejs_heap_size_used_bytes', 'V8 heap in use.', 'heapUsed'],
  ['nodejs_heap_size_total_bytes', 'V8 heap reserved.', 'heapTotal'],
  [
    'nodejs_external_memory_bytes',
    'Memory of C++ objects bound to JavaScript objects, Buffers included.',
    'external',
  ],
] as const;

function memoryFamilies(): Family[] {
  const memory = process.memoryUsage();
  return MEMORY_GAUGES.map(([name, help, field]) => gauge(name, help, memory[field]));
}

function dynaliteFamilies(stats: EmbeddedDynaliteStats): Family[] {
  return [
    gauge(
      'agent_task_status_dynalite_open_iterators',
      'LevelDB iterators open in the embedded dynalite; 0 at rest (each Query holds one while it reads).',
      stats.openIterators,
    ),
    counter(
      'agent_task_status_dynalite_iterators_opened_total',
      'LevelDB iterators the embedded dynalite opened (about one per Query).',
      stats.iteratorsOpened,
    ),
    gauge(
      'agent_task_status_dynalite_pending_operations',
      'LevelDB reads and writes the embedded dynalite has started and not finished.',
      stats.pendingOperations,
    ),
    gauge(
      'agent_task_status_dynalite_leveldb_memory_bytes',
      "LevelDB's estimate of its memory (memtables and block cache).",
      stats.leveldbMemoryBytes,
    ),
    gauge(
      'agent_task_status_dynalite_leveldb_disk_bytes',
      "LevelDB's estimate of its table files on disk.",
      stats.leveldbDiskBytes,
    ),
  ];
}

function gauge(name: string, help: string, value: number): Family {
  return { name, help, type: 'gauge', samples: [{ name, value }] };
}

function counter(name: string, help: string, value: number): Family {
  return { name, help, type: 'counter', samples: [{ name, value }] };
}
