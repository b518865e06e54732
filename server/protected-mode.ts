/**
 * Protected mode, after Redis's: a server that other machines can reach starts only when nothing
 * is open by accident. Task creation (and, with VIEWER_TOKEN_KEYS, minting viewer tokens) is open
 * while ADMIN_TOKEN is unset, and reads are open to whoever can reach the server unless
 * VIEWER_TOKEN_KEYS is set, so a start beyond loopback needs the operator to accept each of those
 * aloud: ALLOW_OPEN_CREATION=1 (or ADMIN_TOKEN) and PUBLIC_READS=1 (or VIEWER_TOKEN_KEYS). On
 * loopback nothing is asked: `npm start` works with no setup. Pure: main.ts prints what these return.
 */
import type { Config } from './config.js';
import { isLoopback } from './http/hosts.js';

type AccessSettings = Pick<
  Config,
  'host' | 'adminToken' | 'allowOpenCreation' | 'publicReads' | 'viewerTokenKeys' | 'demo'
>;

interface Opening {
  /** What a stranger may do, as a verb phrase. */
  open: string;
  /** The setting that accepts it. */
  setting: 'ALLOW_OPEN_CREATION' | 'PUBLIC_READS';
  /** What the operator sets to go on. */
  remedy: string;
}

/** What is open to anyone who can reach the server. */
function openings(config: AccessSettings): Opening[] {
  const open: Opening[] = [];
  if (config.adminToken === null) {
    open.push({
      // The mint route is guarded like creation: open with it, and a minted token reads anything.
      open: config.viewerTokenKeys === null ? 'create tasks' : 'create tasks and mint viewer tokens',
      setting: 'ALLOW_OPEN_CREATION',
      remedy: 'ADMIN_TOKEN (or ALLOW_OPEN_CREATION=1)',
    });
  }
  // Without viewer tokens every read route and WebSocket subscription is public.
  if (config.viewerTokenKeys === null) {
    open.push({
      open: 'read every task and its logs',
      setting: 'PUBLIC_READS',
      remedy: 'VIEWER_TOKEN_KEYS (or PUBLIC_READS=1)',
    });
  }
  return open;
}

/**
 * The one line to refuse the start with, or null to go on: beyond loopback, every opening must be
 * accepted by its setting.
 */
export function protectedModeRefusal(config: AccessSettings): string | null {
  if (isLoopback(config.host)) return null;
  // The demo's controls are for the machine running it, whatever else is accepted.
  if (config.demo) {
    return (
      `refusing to listen on ${config.host} (beyond loopback) with DEMO=1: the demo's controls let ` +
      'anyone who can reach it drop every connection and mint viewer tokens; run the demo with ' +
      'HOST=127.0.0.1, and without DEMO=1 anywhere else; see SECURITY.md'
    );
  }
  const accepted = { ALLOW_OPEN_CREATION: config.allowOpenCreation, PUBLIC_READS: config.publicReads };
  const refused = openings(config).filter(({ setting }) => !accepted[setting]);
  if (refused.length === 0) return null;
  return (
    `refusing to listen on ${config.host} (beyond loopback) while anyone who can reach it may ` +
    `${refused.map((o) => o.open).join(' and ')}: set ${refused.map((o) => o.remedy).join(' and ')} ` +
    'to start anyway, or HOST=127.0.0.1; see SECURITY.md'
  );
}

/** The one line naming what is open, for every start protected mode let through; null: nothing. */
export function openAccessNotice(config: AccessSettings): string | null {
  if (isLoopback(config.host)) {
    if (config.adminToken !== null) return null;
    const what = config.viewerTokenKeys === null ? 'create tasks' : 'create tasks and mint viewer tokens';
    return `warning: ADMIN_TOKEN is not set, so anyone who can reach this server can ${what}`;
  }
  const open = openings(config);
  if (open.length === 0) return null;
  return `open: anyone who can reach this server may ${open.map((o) => o.open).join(' and ')} (${open.map((o) => `${o.setting}=1`).join(', ')})`;
}
