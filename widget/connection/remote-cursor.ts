import type { LinkEvent } from './link.js';

/**
 * Where another tab's cursor stands after it receives `event`, as its seq merge would move it.
 * A guess, but a safe one either way: too low only repeats events on a resubscribe, too high
 * makes that tab's merge see a gap and fill it from the logs route.
 */
export function advance(cursor: number | null, event: LinkEvent): number | null {
  const { requested } = event;
  // Only a snapshot, or a status page a poll brought, carries a nextAfterSeq.
  const page = event.source === 'poll' ? event.result.body : event.message;
  const next = (page as { nextAfterSeq?: unknown } | null | undefined)?.nextAfterSeq;
  if (typeof next === 'number') {
    // A page asked from beyond this tab's cursor skips events it never saw.
    return cursor === null || (requested !== null && requested <= cursor)
      ? Math.max(cursor ?? 0, next)
      : cursor;
  }
  if (event.source === 'poll' || event.message.type !== 'update' || cursor === null) return cursor;
  const { fromSeq, task } = event.message;
  return fromSeq <= cursor + 1 ? Math.max(cursor, task.seq) : cursor;
}
