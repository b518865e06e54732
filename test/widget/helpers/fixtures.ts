import type { TaskStatusPage } from '../../../protocol/http.js';
import type { Phase } from '../../../protocol/phases.js';
import type { LogEntry, Task } from '../../../protocol/task.js';
import type { SnapshotMessage, UpdateMessage } from '../../../protocol/ws-messages.js';

const AT = '2026-11-24T12:00:00.000Z';

export function task(seq: number, phase: Phase = 'running', id = 't-1'): Task {
  return {
    id,
    agentId: 'agent-1',
    title: null,
    phase,
    progress: null,
    message: `at ${seq}`,
    seq,
    createdAt: AT,
    updatedAt: AT,
  };
}

export function line(seq: number): LogEntry {
  return { seq, at: AT, level: 'info', message: `line ${seq}` };
}

export function lines(from: number, to: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (let seq = from; seq <= to; seq++) out.push(line(seq));
  return out;
}

/** The write covering events fromSeq..toSeq, all of them log lines unless `statusOnly`. */
export function update(fromSeq: number, toSeq: number, phase: Phase = 'running', id = 't-1'): UpdateMessage {
  return { type: 'update', taskId: id, fromSeq, task: task(toSeq, phase, id), logs: lines(fromSeq, toSeq) };
}

export function page(
  logs: LogEntry[],
  taskSeq: number,
  more: Partial<Omit<TaskStatusPage, 'logs' | 'task'>> & { phase?: Phase; id?: string } = {},
): TaskStatusPage {
  return {
    task: task(taskSeq, more.phase ?? 'running', more.id ?? 't-1'),
    logs,
    nextAfterSeq: more.nextAfterSeq ?? taskSeq,
    hasMore: more.hasMore ?? false,
    hasOlder: more.hasOlder ?? false,
  };
}

/** A snapshot of `p`; without `requestId`, a test Peer fills in the request it answers. */
export function snapshot(p: TaskStatusPage, requestId?: number): Omit<SnapshotMessage, 'requestId'> {
  return { type: 'snapshot', taskId: p.task.id, ...p, ...(requestId === undefined ? {} : { requestId }) };
}

export function seqs(logs: readonly LogEntry[]): number[] {
  return logs.map((l) => l.seq);
}
