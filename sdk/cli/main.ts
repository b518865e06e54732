// `agent-task-status`: put any command in a panel with no code change, and more, from a shell.
//
//   agent-task-status run --title "nightly eval" -- python eval.py
//   agent-task-status create --agent nightly --title "eval"        (prints { task, agentToken })
//   agent-task-status post --task ID --token TOKEN --phase running --log "started"
//   agent-task-status tail --task ID
//
// The server: --url, or AGENT_TASK_STATUS_URL, or http://localhost:8787. The admin token (to create
// tasks when the server has one): --admin-token or ADMIN_TOKEN.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PHASES, type Phase } from '../../protocol/phases.js';
import { LOG_LEVELS, type LogLevel } from '../../protocol/task.js';
import { AgentTask, createTask, openTask } from '../agent/index.js';
import { tail } from './tail.js';

const USAGE = `usage:
  agent-task-status run [--title T] [--agent A] [--task ID --token TOKEN] -- command [args...]
  agent-task-status create [--agent A] [--title T] [--id ID]
  agent-task-status post --task ID --token TOKEN [--phase P] [--progress N] [--message M] [--log TEXT]... [--level L]
  agent-task-status tail --task ID [--after SEQ] [--token VIEWER_TOKEN]
common: [--url URL] (AGENT_TASK_STATUS_URL, default http://localhost:8787) [--admin-token T] (ADMIN_TOKEN)`;

/** How long `run` waits, after the command ended, for its last lines to be stored. */
const FINAL_FLUSH_MS = 30_000;

class UsageError extends Error {}

const OPTIONS = {
  url: { type: 'string' },
  'admin-token': { type: 'string' },
  agent: { type: 'string' },
  title: { type: 'string' },
  id: { type: 'string' },
  task: { type: 'string' },
  token: { type: 'string' },
  phase: { type: 'string' },
  progress: { type: 'string' },
  message: { type: 'string' },
  log: { type: 'string', multiple: true },
  level: { type: 'string' },
  after: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dashes = argv.indexOf('--');
  const own = dashes === -1 ? argv : argv.slice(0, dashes);
  const command = dashes === -1 ? [] : argv.slice(dashes + 1);
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: own,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  const [verb, ...rest] = positionals;
  if (values.help || verb === undefined)
    return usage(verb === undefined && !values.help ? 'name a command' : null);
  if (rest.length > 0) return usage(`unexpected ${rest.join(' ')}`);
  const baseUrl = values.url ?? env.AGENT_TASK_STATUS_URL ?? 'http://localhost:8787';
  const adminToken = values['admin-token'] ?? env.ADMIN_TOKEN;
  try {
    switch (verb) {
      case 'run':
        return await run(values, command, baseUrl, adminToken);
      case 'create': {
        const task = await createTask({
          baseUrl,
          adminToken,
          agentId: agentOf(values),
          title: values.title,
          id: values.id,
        });
        process.stdout.write(`${JSON.stringify({ taskId: task.id, agentToken: task.agentToken })}\n`);
        return 0;
      }
      case 'post':
        return await post(values, baseUrl);
      case 'tail':
        return await tailCommand(values, baseUrl);
      default:
        return usage(`unknown command "${verb}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    process.stderr.write(`agent-task-status: ${(error as Error).message}\n`);
    return 1;
  }
}

function usage(problem: string | null): number {
  process.stderr.write(`${problem ? `agent-task-status: ${problem}\n` : ''}${USAGE}\n`);
  return problem ? 2 : 0;
}

function agentOf(values: Values): string {
  // A default an id may hold: letters, digits, ".", "_", ":" and "-".
  return (
    values.agent ??
    `cli-${hostname()
      .replace(/[^A-Za-z0-9._:-]/g, '-')
      .slice(0, 100)}`
  );
}

async function taskOf(values: Values, baseUrl: string, adminToken: string | undefined): Promise<AgentTask> {
  const options = {
    baseUrl,
    onRetry: (error: Error, ms: number) => warnOnce(`${error.message}; retrying in ${ms} ms`),
  };
  if (values.task !== undefined || values.token !== undefined) {
    if (!values.task || !values.token) throw new UsageError('--task and --token go together');
    return openTask({ ...options, taskId: values.task, agentToken: values.token });
  }
  return createTask({ ...options, adminToken, agentId: agentOf(values), title: values.title, id: values.id });
}

let warned = false;
/** The first retry's reason, once: the server being away should not flood the command's output. */
function warnOnce(text: string): void {
  if (warned) return;
  warned = true;
  process.stderr.write(`agent-task-status: ${text} (lines are kept and sent when it answers)\n`);
}

/** Lines that read as errors on stderr are `error`, the rest of stderr `warn`, stdout `info`. */
const ERROR_LINE = /^\s*(error|fatal|panic|traceback|exception|uncaught)\b|^\S*(Error|Exception)\b[:\s]/i;

async function run(
  values: Values,
  command: string[],
  baseUrl: string,
  adminToken: string | undefined,
): Promise<number> {
  if (command.length === 0) throw new UsageError('run needs a command after --');
  const task = await taskOf(values, baseUrl, adminToken);
  process.stderr.write(`agent-task-status: task ${task.id}\n`);
  task.status({ phase: 'running', message: command.join(' ').slice(0, 200) });
  const child = spawn(command[0]!, command.slice(1), { stdio: ['inherit', 'pipe', 'pipe'] });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map(
    (signal) => [signal, forward(signal)] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);

  const streams = [
    [child.stdout, process.stdout, () => 'info'] as const,
    [child.stderr, process.stderr, (line: string) => (ERROR_LINE.test(line) ? 'error' : 'warn')] as const,
  ];
  const read = streams.map(
    ([from, to, levelOf]) =>
      new Promise<void>((resolve) => {
        from.pipe(to, { end: false });
        const lines = createInterface({ input: from, crlfDelay: Infinity });
        lines.on('line', (line) => sendLine(task, levelOf(line) as LogLevel, line));
        lines.on('close', resolve);
      }),
  );
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    },
  );
  if (!exit.error) await Promise.all(read);
  for (const [signal, handler] of handlers) process.off(signal, handler);

  const status =
    exit.error !== undefined
      ? 127
      : exit.signal !== null
        ? 128 + (signalNumber(exit.signal) ?? 0)
        : (exit.code ?? 1);
  const why = exit.error
    ? `could not start: ${exit.error.message}`
    : exit.signal
      ? `killed by ${exit.signal}`
      : `exited with code ${exit.code}`;
  if (exit.error) process.stderr.write(`agent-task-status: ${command[0]}: ${exit.error.message}\n`);
  task.status(
    status === 0 ? { phase: 'completed', progress: 100, message: why } : { phase: 'failed', message: why },
  );
  const flushed = await Promise.race([
    task.close().then(
      () => 'stored',
      (error: Error) => error,
    ),
    new Promise((resolve) => setTimeout(resolve, FINAL_FLUSH_MS).unref()),
  ]);
  if (flushed !== 'stored') {
    const reason =
      flushed instanceof Error ? flushed.message : `not stored within ${FINAL_FLUSH_MS / 1000} s`;
    process.stderr.write(
      `agent-task-status: the task's last ${task.buffered} lines were not stored: ${reason}\n`,
    );
  }
  return status;
}

function sendLine(task: AgentTask, level: LogLevel, line: string): void {
  try {
    task.line(level, line);
  } catch (error) {
    // A full buffer (the server away for long) or a refused token: the command goes on regardless.
    warnOnce((error as Error).message);
  }
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return (
    { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13, SIGABRT: 6 } as Record<
      string,
      number
    >
  )[signal];
}

async function post(values: Values, baseUrl: string): Promise<number> {
  if (!values.task || !values.token) throw new UsageError('post needs --task and --token');
  const task = openTask({ baseUrl, taskId: values.task, agentToken: values.token });
  const level = values.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new UsageError(`--level is one of ${LOG_LEVELS.join(', ')}`);
  for (const line of values.log ?? []) task.line(level as LogLevel, line);
  if (values.phase !== undefined && !(PHASES as readonly string[]).includes(values.phase))
    throw new UsageError(`--phase is one of ${PHASES.join(', ')}`);
  const progress = values.progress === undefined ? undefined : Number(values.progress);
  if (values.phase !== undefined || progress !== undefined || values.message !== undefined) {
    task.status({
      ...(values.phase !== undefined ? { phase: values.phase as Phase } : {}),
      ...(progress !== undefined ? { progress } : {}),
      ...(values.message !== undefined ? { message: values.message } : {}),
    });
  }
  if (
    task.buffered === 0 &&
    values.phase === undefined &&
    progress === undefined &&
    values.message === undefined
  )
    throw new UsageError('post needs --phase, --progress, --message or --log');
  await task.close();
  return 0;
}

async function tailCommand(values: Values, baseUrl: string): Promise<number> {
  if (!values.task) throw new UsageError('tail needs --task');
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  const task = await tail({
    baseUrl,
    taskId: values.task,
    afterSeq: values.after === undefined ? 0 : Number(values.after),
    token: values.token,
    signal: controller.signal,
    print: (line) =>
      (line.level === 'warn' || line.level === 'error' ? process.stderr : process.stdout).write(
        `${line.at.slice(11, 19)} ${line.level.padEnd(5)} ${line.message}\n`,
      ),
    onReconnect: (ms) => process.stderr.write(`agent-task-status: connection lost; again in ${ms} ms\n`),
  }).finally(() => process.off('SIGINT', stop));
  if (task)
    process.stderr.write(`agent-task-status: ${task.phase}${task.message ? `: ${task.message}` : ''}\n`);
  return task?.phase === 'completed' || controller.signal.aborted ? 0 : 1;
}
