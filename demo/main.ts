// The demo's glue: load the embeddable file like a host page would, and wire the chaos controls
// to the server's demo routes (enabled only in demo mode).

// Loaded at run time from the server, not bundled, so the demo exercises the real embeddable file.
const WIDGET_URL = '/agent-task-status.js';
await import(/* @vite-ignore */ WIDGET_URL);

// With VIEWER_TOKEN_KEYS set the server reads only to viewer tokens: each panel asks the demo route
// for one (when refused, and before it expires), as a host page would ask its own backend.
async function demoViewerToken(): Promise<string | null> {
  const response = await fetch('/demo/api/viewer-token', { method: 'POST' });
  return response.ok ? ((await response.json()) as { token: string | null }).token : null;
}
for (const panel of document.querySelectorAll('agent-task-status')) {
  (panel as HTMLElement & { tokenProvider: typeof demoViewerToken }).tokenProvider = demoViewerToken;
}

const statusLine = document.querySelector<HTMLElement>('#control-status')!;

async function control(path: string, body?: object): Promise<Record<string, unknown>> {
  const response = await fetch(`/demo/api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(String((json.error as { message?: string })?.message ?? response.status));
  return json;
}

function wire(id: string, action: (button: HTMLButtonElement) => Promise<string>): void {
  const button = document.querySelector<HTMLButtonElement>(`#${id}`)!;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      statusLine.textContent = await action(button);
    } catch (error) {
      statusLine.textContent = `Failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      button.disabled = false;
    }
  });
}

wire('drop', async () => {
  const { dropped } = await control('drop-sockets');
  return `Dropped ${dropped} WebSocket connection(s); panels reconnect with backoff.`;
});

wire('refuse', async (button) => {
  const refuse = button.getAttribute('aria-pressed') !== 'true';
  await control('refuse-upgrades', { refuse });
  button.setAttribute('aria-pressed', String(refuse));
  button.textContent = refuse ? 'Allow WebSocket upgrades' : 'Refuse WebSocket upgrades';
  return refuse
    ? 'Upgrades refused: panels fall back to polling after their retries.'
    : 'Upgrades allowed: panels climb back to live.';
});

wire('agent', async (button) => {
  const run = button.getAttribute('aria-pressed') !== 'true';
  await control('agents', { running: run });
  button.setAttribute('aria-pressed', String(run));
  button.textContent = run ? 'Stop the agents' : 'Start the agents';
  return run ? 'Agents started.' : 'Agents stopped: the running tasks end as cancelled.';
});

// The by-task panel pins the builder's first task, so it stays on it after newer ones start.
const state = (await fetch('/demo/api/state').then((r) => r.json())) as { firstTaskId?: string };
if (state.firstTaskId) document.querySelector('#by-task')!.setAttribute('task-id', state.firstTaskId);

export {};
