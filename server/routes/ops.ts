import { Hono } from 'hono';
import type { AppEnv } from '../http/app-env.js';
import { renderPrometheus, type Family, type HttpMetrics } from '../http/metrics.js';
import type { Realtime } from '../realtime/realtime.js';

export interface OpsDeps {
  metrics: HttpMetrics;
  realtime?: Realtime | undefined;
}

/** Liveness and Prometheus metrics, for operators. */
export function opsRoutes({ metrics, realtime }: OpsDeps) {
  return new Hono<AppEnv>()
    .get('/healthz', (c) => {
      c.header('Cache-Control', 'no-store');
      return c.json({ ok: true }, 200);
    })
    .get('/metrics', (c) => {
      const families: Family[] = [
        gauge('process_uptime_seconds', 'Seconds since the process started.', process.uptime()),
        gauge('process_resident_memory_bytes', 'Resident set size.', process.memoryUsage.rss()),
        metrics.family(),
      ];
      if (realtime) {
        const stats = realtime.stats();
        families.push(
          gauge('agent_task_status_ws_connections', 'Open WebSocket connections.', stats.connections),
          gauge('agent_task_status_ws_subscriptions', 'Task and agent subscriptions.', stats.subscriptions),
          {
            name: 'agent_task_status_ws_delivered_total',
            help: 'Events delivered to WebSocket subscribers.',
            type: 'counter',
            samples: [{ name: 'agent_task_status_ws_delivered_total', value: stats.delivered }],
          },
        );
      }
      c.header('Cache-Control', 'no-store');
      return c.text(renderPrometheus(families), 200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      });
    });
}

function gauge(name: string, help: string, value: number): Family {
  return { name, help, type: 'gauge', samples: [{ name, value }] };
}
