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
import { constants as osConstants, hostname } from 'node:os';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PHASES, type Phase } from '../../protocol/phases.js';
import { LOG_LEVELS, type LogLevel } from '../../protocol/task.js';
import { AgentTask, createTask, openTask } from '../agent/index.js';
import { tail } from './tail.js';

const USAGE = `usage:
  agent-task-status run [--title T] [--agent A] [--task ID --token TOKEN] -- command [args...]
  agent-task-status create [--agent A] [--title T] [--id ID]
  agent-task-status post --task ID --token TOKEN [--phase P] [--progress N] [--message M] [--log TEXT]... [--level L] [--timeout S]
  agent-task-status tail --task ID [--after SEQ] [--token VIEWER_TOKEN]
common: [--url URL] (AGENT_TASK_STATUS_URL, default http://localhost:8787) [--admin-token T] (ADMIN_TOKEN)`;

/** How long `post` retries before it gives up (exit 1). */
const POST_DEADLINE_MS = 30_000;
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
  timeout: { type: 'string' },
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
    // Far above what a pause of the command's output lets through (PAUSE_AT_LINES and a pipe's
    // 64 KiB read): lines are dropped only while the server is away.
    maxBufferedLines: 100_000,
    onRetry: (error: Error, ms: number) =>
      warnOnce(`${error.message}; retrying in ${ms} ms (lines are kept meanwhile, up to 100,000)`),
  };
  if (values.task !== undefined || values.token !== undefined) {
    if (!values.task || !values.token) throw new UsageError('--task and --token go together');
    return openTask({ ...options, taskId: values.task, agentToken: values.token });
  }
  return createTask({ ...options, adminToken, agentId: agentOf(values), title: values.title, id: values.id });
}

let warned = false;
/** The first problem, once: the server being away should not flood the command's output. */
function warnOnce(text: string): void {
  if (warned) return;
  warned = true;
  process.stderr.write(`agent-task-status: ${text}\n`);
}

/** Lines that read as errors on stderr are `error`, the rest of stderr `warn`, stdout `info`. */
const ERROR_LINE = /^\s*(error|fatal|panic|traceback|exception|uncaught)\b|^\S*(Error|Exception)\b[:\s]/i;

/**
 * Lines waiting past which the command's output is paused until the server has taken them: a
 * chatty command waits for a server that answers, rather than lines being dropped. While the server
 * is away (retrying) the output is never held: the command must not hang on its status panel, so
 * past the bound the CLI gives the SDK (100,000 lines) lines are dropped and counted.
 */
const PAUSE_AT_LINES = 8_000;

async function run(
  values: Values,
  command: string[],
  baseUrl: string,
  adminToken: string | undefined,
): Promise<number> {
  if (command.length === 0) throw new UsageError('run needs a command after --');
  let task: AgentTask | null = null;
  try {
    task = await taskOf(values, baseUrl, adminToken);
    process.stderr.write(`agent-task-status: task ${task.id}\n`);
    // The command's name only: its arguments may hold secrets, and every viewer sees the message.
    task.status({ phase: 'running', message: basename(command[0]!) });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // The command runs whatever happens to its status panel.
    process.stderr.write(`agent-task-status: not reporting this run: ${(error as Error).message}\n`);
    task = null;
  }
  let dropped = 0;
  const child = spawn(command[0]!, command.slice(1), { stdio: ['inherit', 'pipe', 'pipe'] });
  // SIGINT and SIGHUP from a terminal reach the whole process group, the command included: the CLI
  // only stays alive to report how it ended. SIGTERM (a process manager's) is passed on.
  const onTerm = () => child.kill('SIGTERM');
  const stay = () => {};
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', stay);
  process.on('SIGHUP', stay);

  const streams = [
    [child.stdout, process.stdout, () => 'info'] as const,
    [child.stderr, process.stderr, (line: string) => (ERROR_LINE.test(line) ? 'error' : 'warn')] as const,
  ];
  let paused = false;
  const pauseUntilTaken = () => {
    if (!task || paused || task.buffered < PAUSE_AT_LINES || task.retrying) return;
    paused = true;
    for (const [from] of streams) from.pause();
    const resume = () => {
      paused = false;
      for (const [from] of streams) from.resume();
    };
    const wait = async () => {
      // Until the server has taken most of it, or stops answering (then: never hold the command).
      while (task!.buffered >= PAUSE_AT_LINES / 2 && !task!.retrying) {
        await Promise.race([task!.flush().catch(() => {}), new Promise((r) => setTimeout(r, 200))]);
      }
    };
    void wait().finally(resume);
  };
  const read = streams.map(
    ([from, to, levelOf]) =>
      new Promise<void>((resolve) => {
        // A closed terminal or pipe (`run ... | head`) ends the mirroring, not the command or the report.
        to.on('error', () => from.unpipe(to));
        from.pipe(to, { end: false });
        const lines = createInterface({ input: from, crlfDelay: Infinity });
        lines.on('line', (line) => {
          if (!task) return;
          try {
            task.line(levelOf(line) as LogLevel, line);
          } catch (error) {
            dropped += 1;
            warnOnce(`${(error as Error).message}; lines are dropped meanwhile, and counted`);
          }
          pauseUntilTaken();
        });
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
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', stay);
  process.off('SIGHUP', stay);

  const status =
    exit.error !== undefined
      ? 127
      : exit.signal !== null
        ? 128 + (osConstants.signals[exit.signal] ?? 0)
        : (exit.code ?? 1);
  const why = exit.error
    ? `could not start: ${exit.error.message}`
    : exit.signal
      ? `killed by ${exit.signal}`
      : `exited with code ${exit.code}`;
  if (exit.error) process.stderr.write(`agent-task-status: ${command[0]}: ${exit.error.message}\n`);
  if (task) await report(task, status, why, dropped);
  return status;
}

/** The end of a run, in its task: never in the way of the command's own exit status. */
async function report(task: AgentTask, status: number, why: string, dropped: number): Promise<void> {
  try {
    task.status(
      status === 0 ? { phase: 'completed', progress: 100, message: why } : { phase: 'failed', message: why },
    );
  } catch (error) {
    process.stderr.write(`agent-task-status: could not report the end: ${(error as Error).message}\n`);
    return;
  }
  const flushed = await Promise.race([
    task.close().then(
      () => 'stored',
      (error: Error) => error,
    ),
    new Promise((resolve) => setTimeout(resolve, FINAL_FLUSH_MS).unref()),
  ]);
  const lost = dropped + task.droppedLines;
  if (lost > 0) {
    process.stderr.write(
      `agent-task-status: ${lost} lines of output were not stored (the task's log was full, or the server away too long)\n`,
    );
  }
  if (flushed !== 'stored') {
    const reason =
      flushed instanceof Error ? flushed.message : `not stored within ${FINAL_FLUSH_MS / 1000} s`;
    process.stderr.write(
      `agent-task-status: the task's last ${task.buffered} lines were not stored: ${reason}\n`,
    );
  }
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
  // Retried while the server is away, but not for ever: a script waits at most this long.
  const deadline = values.timeout === undefined ? POST_DEADLINE_MS : Number(values.timeout) * 1000;
  if (!(deadline > 0)) throw new UsageError('--timeout is a number of seconds');
  const stored = await Promise.race([
    task.close().then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), deadline).unref()),
  ]);
  if (!stored) throw new Error(`not stored within ${deadline / 1000} s: is the server at ${baseUrl} up?`);
  return 0;
}

async function tailCommand(values: Values, baseUrl: string): Promise<number> {
  if (!values.task) throw new UsageError('tail needs --task');
  const afterSeq = values.after === undefined ? 0 : Number(values.after);
  if (!Number.isInteger(afterSeq) || afterSeq < 0) throw new UsageError('--after is a seq: 0 or more');
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  const task = await tail({
    baseUrl,
    taskId: values.task,
    afterSeq,
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
