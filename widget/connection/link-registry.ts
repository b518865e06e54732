import type { Link } from './link.js';
import { tabLink, type TabLink, type TabLinkConfig } from './tab-link.js';

export interface LinkLease {
  readonly link: Link;
  /** Idempotent; the last release closes the link. */
  release(): void;
}

/**
 * One TabLink per URL, shared by every panel on the page and closed when the last one lets
 * go. The first acquirer's config (WebSocket, clock) wins; panels of one page share them anyway.
 */
export class LinkRegistry {
  readonly #entries = new Map<string, { link: TabLink; refs: number }>();

  acquire(config: TabLinkConfig): LinkLease {
    let entry = this.#entries.get(config.url);
    if (!entry) {
      entry = { link: tabLink(config), refs: 0 };
      this.#entries.set(config.url, entry);
    }
    entry.refs++;
    entry.link.open();
    const held = entry;
    let released = false;
    return {
      link: held.link,
      release: () => {
        if (released) return;
        released = true;
        if (--held.refs > 0) return;
        held.link.close();
        if (this.#entries.get(config.url) === held) this.#entries.delete(config.url);
      },
    };
  }

  /** Links currently held (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }
}

/** The page-wide registry the element's feeds use by default. */
export const sharedLinks = new LinkRegistry();
