// Zod-free on purpose: the widget imports this at run time and must stay small.

/**
 * The lifecycle of a task. Phases only move forward; a terminal phase is final.
 * Pure: imported by the server (to refuse a backward move) and the widget (to draw the stepper).
 */
export const PHASES = [
  'queued',
  'starting',
  'running',
  'completing',
  'completed',
  'failed',
  'cancelled',
] as const;

export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: readonly Phase[] = ['completed', 'failed', 'cancelled'];

/** Rank in the forward order; the three outcomes share the last rank. */
const RANK: Record<Phase, number> = {
  queued: 0,
  starting: 1,
  running: 2,
  completing: 3,
  completed: 4,
  failed: 4,
  cancelled: 4,
};

export function isTerminal(phase: Phase): boolean {
  return RANK[phase] === RANK.completed;
}

export function phaseRank(phase: Phase): number {
  return RANK[phase];
}

/**
 * Whether a task in `from` may report `to`. Repeating the current phase is allowed (agents
 * re-send it with new progress); skipping ahead is allowed (a task may fail while starting);
 * moving back, or any change after a terminal phase, is not.
 */
export function canMovePhase(from: Phase, to: Phase): boolean {
  if (from === to) return true;
  if (isTerminal(from)) return false;
  return RANK[to] > RANK[from];
}
