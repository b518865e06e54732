/** A Prometheus text-format sample: name, labels, value. */
export interface Sample {
  name: string;
  labels?: Record<string, string>;
  value: number;
}

/** A metric family: one HELP/TYPE header, then its samples. */
export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

/**
 * Counts HTTP answers by method, route pattern and status. Route patterns (not raw paths) keep
 * the label set small whatever ids clients send. One per app, so tests do not share counts.
 */
export class HttpMetrics {
  // Nested by route, method, status rather than keyed by a joined string: on every request, and
  // these strings (Hono's route patterns, Node's method names) are the same objects each time, so
  // their hashes are cached and nothing is built.
  readonly #counts = new Map<string, Map<string, Map<number, number>>>();

  record(method: string, route: string, status: number): void {
    let byMethod = this.#counts.get(route);
    if (!byMethod) this.#counts.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  family(): Family {
    const samples: Sample[] = [];
    for (const [route, byMethod] of this.#counts) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, count] of byStatus) {
          samples.push({
            name: 'agent_task_status_http_requests_total',
            labels: { method, route, status: String(status) },
            value: count,
          });
        }
      }
    }
    return {
      name: 'agent_task_status_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      type: 'counter',
      samples,
    };
  }
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {})
        .map(([key, value]) => `${key}="${escapeLabel(value)}"`)
        .join(',');
      lines.push(`${sample.name}${labels ? `{${labels}}` : ''} ${sample.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
