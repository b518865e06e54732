import { isPolled, keyName, type FeedKey } from './feed-key.js';
import { combine, type Followed, type Interest, type Member } from './interest.js';
import type { Link, LinkEvent } from './link.js';
import { IDLE, type LinkStatus } from './link-status.js';
import type { LocksLike } from './tab-election.js';
import type { SharingHost, TabSharing } from './tab-sharing.js';
import { upstreams, type EndpointConfig, type Upstreams } from './upstreams.js';

export type { LocksLike } from './tab-election.js';

export interface TabLinkConfig extends EndpointConfig {
  /** Both are needed to share one socket between the tabs; without, this tab has its own. */
  BroadcastChannel?: (new (name: string) => BroadcastChannel) | null;
  locks?: LocksLike | null;
  /** Where `visibilitychange` and `freeze`/`resume` (page lifecycle) fire; whether the tab is hidden. */
  document?: (EventTarget & { readonly hidden?: boolean }) | null;
  /** Where `pagehide`/`pageshow` fire. */
  window?: EventTarget | null;
  /** Unique per tab; random by default. */
  tabId?: string;
  /** Loads tab-sharing.ts (tests make it fail, as for a host that copied only the main file). */
  loadSharing?: () => Promise<typeof import('./tab-sharing.js')>;
}

/** The link a registry hands out: a Link, opened and closed by its holders' count. */
export interface TabLink extends Link {
  /** Whether this tab holds the socket (for tests and diagnostics). */
  readonly leading: boolean;
  open(): void;
  close(): void;
}

/**
 * The connection to one endpoint for this tab, shared with the other tabs of the browser. The
 * tab that leads owns the upstreams (upstreams.ts: the socket and the polls) and serves every
 * key its panels follow; the sharing between tabs (tab-sharing.ts: the election, and the relay of
 * interests and events) is loaded on demand, and until it is, the tab waits as it would for the
 * lead. Without Web Locks or BroadcastChannel, or if that module cannot be loaded (a host that
 * copied only the main file), the tab leads alone. Panels never see the difference: they hold a Link.
 */
export function tabLink(config: TabLinkConfig): TabLink {
  const { document, window, locks, BroadcastChannel } = config;
  const tabId = config.tabId ?? Math.random().toString(36).slice(2);
  const followed = new Map<string, Followed>();
  const watchers = new Set<(status: LinkStatus) => void>();
  let status = IDLE;
  let open = false;
  let started = false;
  let leading = false;
  /** The leader's; null on a follower. */
  let sources: Upstreams | null = null;
  /** The other tabs, once tab-sharing.ts is loaded; never, without the browser APIs it needs. */
  let sharing: TabSharing | null = null;
  let canShare = !!locks && !!BroadcastChannel;

  /** Listeners hear each real change once; the leader's socket status also goes to the other tabs. */
  function setStatus(next: LinkStatus): void {
    // Statuses are small flat objects: equal JSON is the same status.
    if (JSON.stringify(next) === JSON.stringify(status)) return;
    status = next;
    if (leading) sharing?.status(next);
    for (const listener of [...watchers]) listener(next);
  }

  function interest(key: FeedKey): Interest {
    return combine(followed.get(keyName(key))?.members.values() ?? [], !!document?.hidden);
  }

  function follow(key: FeedKey): Followed {
    const name = keyName(key);
    let held = followed.get(name);
    if (!held) followed.set(name, (held = { key, members: new Map() }));
    return held;
  }

  // ---- page lifecycle ------------------------------------------------------------------------

  function listen(method: 'addEventListener' | 'removeEventListener'): void {
    document?.[method]('visibilitychange', onVisibility);
    // A frozen or bfcached tab must not keep the socket (or a lock) that other tabs wait on.
    document?.[method]('freeze', stop);
    document?.[method]('resume', resume);
    window?.[method]('pagehide', stop);
    window?.[method]('pageshow', resume);
  }

  /** Polls go slower while hidden: the leader retunes them, a follower tells the leader. */
  function onVisibility(): void {
    for (const { key } of followed.values()) if (isPolled(key)) changed(key, false);
    // Back in view after a while (a laptop that slept): the socket may be dead but look open.
    if (document?.hidden === false) link.probe();
  }

  function resume(): void {
    if (open) start();
  }

  function start(): void {
    if (started) return;
    started = true;
    if (!canShare) lead();
    else if (sharing) sharing.start();
    else void loadSharing();
  }

  async function loadSharing(): Promise<void> {
    try {
      // Its own file (a chunk beside the main one). What it needs of this one comes through
      // `host`: a module both import would become a third file the main one loads up front.
      const { tabSharing } = await (config.loadSharing ?? (() => import('./tab-sharing.js')))();
      sharing ??= tabSharing(host);
    } catch {
      canShare = false;
    }
    // Stopped meanwhile: the next start() goes on from here.
    if (!started) return;
    if (sharing) sharing.start();
    else if (!leading) lead();
  }

  function stop(): void {
    if (!started) return;
    started = false;
    sharing?.stop();
    leading = false;
    sources?.close();
    sources = null;
    setStatus(IDLE);
  }

  function lead(): void {
    leading = true;
    sources = upstreams({ ...config, status: setStatus, interest, deliver: relay });
    for (const { key } of followed.values()) sources.serve(key, true);
  }

  // ---- keys ----------------------------------------------------------------------------------

  /** This tab's interest in `key` changed: serve it (leader) or tell the leader. */
  function changed(key: FeedKey, refresh: boolean): void {
    if (!followed.has(keyName(key))) return;
    if (sources) sources.serve(key, refresh);
    else sharing?.join(key, refresh);
  }

  /** A key's last member left: end its upstream (leader) or tell the leader. */
  function forget(key: FeedKey): void {
    followed.delete(keyName(key));
    if (sources) sources.end(key);
    else sharing?.leave(key);
  }

  /** An upstream's event: to the other tabs first (so every tab sees events in one order), then here. */
  function relay(key: FeedKey, event: LinkEvent): void {
    sharing?.relay(key, event);
    deliver(key, event);
  }

  function deliver(key: FeedKey, event: LinkEvent): void {
    for (const member of [...(followed.get(keyName(key))?.members.values() ?? [])])
      if (member.kind === 'panel') member.listener.on(event);
  }

  const host: SharingHost = {
    url: config.url,
    tabId,
    locks: locks!,
    BroadcastChannel: BroadcastChannel!,
    followed,
    get status() {
      return status;
    },
    setStatus,
    interest,
    find: (key) => followed.get(keyName(key)),
    follow,
    lead,
    get sources() {
      return sources;
    },
    forget,
    deliver,
  };

  const link: TabLink = {
    get status() {
      return status;
    },
    onStatus(listener) {
      watchers.add(listener);
      return () => watchers.delete(listener);
    },
    get leading() {
      return leading;
    },

    open() {
      if (open) return;
      open = true;
      listen('addEventListener');
      start();
    },

    close() {
      if (!open) return;
      open = false;
      listen('removeEventListener');
      stop();
    },

    join(key, listener, intervalMs = 0) {
      const { members } = follow(key);
      const member: Member = { kind: 'panel', listener, intervalMs };
      members.set(member, member);
      changed(key, true);
      return () => {
        if (!members.delete(member)) return;
        if (members.size > 0) changed(key, false);
        else forget(key);
      };
    },

    again: (key) => changed(key, true),

    retryNow() {
      if (sources) sources.retryNow();
      else sharing?.ask('retry');
    },

    probe() {
      if (sources) sources.probe();
      else sharing?.ask('probe');
    },
  };
  return link;
}
