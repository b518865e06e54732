import type { LogEntry } from '../../protocol/index.js';
import { lineBytes } from './log-quota.js';

/**
 * Line text one page of logs holds at most (issue 13): a read of 1,000 lines of 8,000 characters
 * would otherwise hold about 8 MB per request, several times over while it is parsed and
 * serialized. Past it the page stops early and says `hasMore` (forward) or `hasOlder` (tail), so
 * clients simply page on; the contract of LogsPageSchema is unchanged.
 */
export const PAGE_MAX_BYTES = 1024 * 1024;

/**
 * Gathers one page of lines in reading order (forward: ascending seq; a tail: descending) up to
 * `limit` lines and `maxBytes` of text. The line that reaches the byte budget is the page's last, so
 * a page always holds at least one line and every page moves its reader on. It takes one line past
 * the page, which tells whether more follow.
 */
export class PageCollector {
  readonly #lines: LogEntry[] = [];
  #bytes = 0;
  /** Lines in the page, once the limit or the budget is reached. */
  #size: number | null = null;

  constructor(
    private readonly limit: number,
    private readonly maxBytes: number,
  ) {}

  /** Lines still to read: the rest of the page and the one after it (0: stop reading). */
  get wanted(): number {
    return (this.#size ?? this.limit) + 1 - this.#lines.length;
  }

  add(line: LogEntry): void {
    this.#lines.push(line);
    if (this.#size !== null) return;
    this.#bytes += lineBytes(line);
    if (this.#lines.length >= this.limit || this.#bytes >= this.maxBytes) this.#size = this.#lines.length;
  }

  /** The page's lines, in reading order, and whether more follow them. */
  page(): { lines: LogEntry[]; more: boolean } {
    const size = this.#size ?? this.#lines.length;
    return { lines: this.#lines.slice(0, size), more: this.#lines.length > size };
  }
}
