import { canMovePhase, type LogEntry, type StatusUpdate, type Task } from '../../protocol/index.js';
import { PhaseConflictError } from './store-errors.js';

export interface AppliedUpdate {
  task: Task;
  logs: LogEntry[];
  fromSeq: number;
}

/**
 * The pure heart of every store's append: given the stored task and a validated update, the
 * events it creates and the task after them. Log lines take the next seqs in order; a change of
 * phase, progress or message is one more event after them, so a terminal status is always the
 * task's last event ("all logs are in" once a client holds it).
 */
export function applyUpdate(current: Task, update: StatusUpdate, now: Date): AppliedUpdate {
  if (update.phase !== undefined && !canMovePhase(current.phase, update.phase)) {
    throw new PhaseConflictError(current.phase, update.phase);
  }
  const stamp = isoStamp(now);
  const fromSeq = current.seq + 1;
  let seq = current.seq;
  const logs: LogEntry[] = (update.logs ?? []).map((line) => ({
    seq: ++seq,
    at: line.at === undefined ? stamp : new Date(line.at).toISOString(),
    level: line.level,
    message: line.message,
  }));
  const changesStatus =
    update.phase !== undefined || update.progress !== undefined || update.message !== undefined;
  if (changesStatus) seq += 1;
  // Field by field rather than `{ ...current, ... }`: a spread with overrides costs about a
  // microsecond per update here, the literal a few nanoseconds (bench/profile.ts ingest).
  const task: Task = {
    id: current.id,
    agentId: current.agentId,
    title: current.title,
    phase: update.phase ?? current.phase,
    progress: update.progress === undefined ? current.progress : update.progress,
    message: update.message === undefined ? current.message : update.message,
    seq,
    createdAt: current.createdAt,
    updatedAt: stamp,
  };
  return { task, logs, fromSeq };
}

let lastStampMs = NaN;
let lastStamp = '';

/**
 * `now.toISOString()`, remembered for the last millisecond: formatting costs about a microsecond,
 * and under load many updates share a millisecond.
 */
function isoStamp(now: Date): string {
  const ms = now.getTime();
  if (ms !== lastStampMs) {
    lastStamp = now.toISOString();
    lastStampMs = ms;
  }
  return lastStamp;
}

export function newTask(id: string, agentId: string, title: string | null, now: Date): Task {
  const stamp = now.toISOString();
  return {
    id,
    agentId,
    title,
    phase: 'queued',
    progress: null,
    message: null,
    seq: 0,
    createdAt: stamp,
    updatedAt: stamp,
  };
}
