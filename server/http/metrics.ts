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
  readonly #counts = new Map<string, { method: string; route: string; status: string; count: number }>();

  record(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`;
    const entry = this.#counts.get(key);
    if (entry) entry.count += 1;
    else this.#counts.set(key, { method, route, status: String(status), count: 1 });
  }

  family(): Family {
    return {
      name: 'agent_task_status_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      type: 'counter',
      samples: [...this.#counts.values()].map(({ method, route, status, count }) => ({
        name: 'agent_task_status_http_requests_total',
        labels: { method, route, status },
        value: count,
      })),
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
