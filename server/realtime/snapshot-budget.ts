import type { TaskStatusPage } from '../../protocol/index.js';

/**
 * Trims a snapshot page to at most `budgetBytes` of JSON, so that a subscription's first answer
 * fits under the socket's buffer bound (WS_MAX_BUFFERED_BYTES). Without it a snapshot of long
 * lines (1,000 lines of 8 KB after a cursor, or a 200-line tail) is larger than the bound by
 * itself, and the session would close a client that reads perfectly well as "too slow" (1013),
 * again on every reconnect: a loop of resubscribes that never streams.
 *
 * The trimmed page keeps the protocol's meaning, so clients need nothing new:
 * - a forward page (after a cursor) keeps its first lines and says `hasMore`, with
 *   `nextAfterSeq` at the last line kept: the client fetches the rest from the logs route;
 * - a tail keeps its newest lines and says `hasOlder`: the rest is a "load older" away.
 * At least one line is always kept, so every snapshot moves the client forward.
 */
export function fitSnapshot(page: TaskStatusPage, forward: boolean, budgetBytes: number): TaskStatusPage {
  const total = Buffer.byteLength(JSON.stringify(page));
  if (total <= budgetBytes || page.logs.length <= 1) return page;
  // Each line costs its JSON and a comma; the rest of the page is fixed.
  const sizes = page.logs.map((line) => Buffer.byteLength(JSON.stringify(line)) + 1);
  let room = budgetBytes - (total - sizes.reduce((sum, size) => sum + size, 0));
  const order = forward ? sizes.map((_, i) => i) : sizes.map((_, i) => sizes.length - 1 - i);
  let kept = 0;
  for (const i of order) {
    if (kept > 0 && sizes[i]! > room) break;
    room -= sizes[i]!;
    kept += 1;
  }
  if (kept === page.logs.length) return page;
  if (forward) {
    const logs = page.logs.slice(0, kept);
    return { ...page, logs, hasMore: true, nextAfterSeq: logs[logs.length - 1]!.seq };
  }
  return { ...page, logs: page.logs.slice(page.logs.length - kept), hasOlder: true };
}
