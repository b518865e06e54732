import type { Task } from '../../protocol/index.js';

export interface PageQuery {
  afterSeq?: number | undefined;
  beforeSeq?: number | undefined;
  limit: number;
}

/**
 * The validator of a status or logs page. A page is fully determined by the task's `seq` (every
 * change of the task or its lines takes a new seq; stored lines never change) and by the query,
 * so this needs no body hashing and can be checked before the page is read. `createdAt` tells a
 * task recreated under the same id (a memory store after a restart) from the old one.
 */
export function pageEtag(task: Task, query: PageQuery): string {
  const cursor =
    query.afterSeq !== undefined
      ? `a${query.afterSeq}`
      : query.beforeSeq !== undefined
        ? `b${query.beforeSeq}`
        : 't';
  const born = Date.parse(task.createdAt).toString(36);
  return `W/"${task.seq}-${born}-${cursor}-l${query.limit}"`;
}

/** RFC 9110 §13.1.2: If-None-Match uses the weak comparison; `*` matches any current page. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const wanted = stripWeak(etag);
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || stripWeak(tag) === wanted;
  });
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
