// Zod-free on purpose: the server and the widget both import these at run time, and the widget
// must not pull zod into the browser bundle. One copy, so the two sides cannot disagree.

/**
 * Bumped on an incompatible change of the WebSocket messages. 2: `subscribe` carries a list of
 * tasks and agents and a `requestId` that every answer echoes (issue 12).
 */
export const PROTOCOL_VERSION = 2;

/**
 * Task and agent ids. They appear in URLs, DynamoDB keys, log output and viewer tokens: short and
 * unambiguous. Here rather than in ids.ts so that zod-free code (the viewer-token SDK) checks the
 * same rule.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const ID_RULE = 'use 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

// The widget imports the constants it needs one by one: a bundler drops the named constants a
// file does not use, but keeps every property of an object it touches (160 B of the widget's
// size budget, issue 13). The server reads them through LIMITS and CLOSE_CODES.

/** The most lines one logs page (or a resuming snapshot) carries. */
export const LOGS_PAGE_MAX = 1_000;
/** Lines in a tail read (a fresh panel) unless `limit` says otherwise. */
export const TAIL_LINES = 200;
/**
 * Tasks plus agents one `subscribe` may carry. A page of hundreds of panels resubscribes in a
 * few messages, and a message stays far below the default frame limit (128 ids of up to 128
 * characters, with their cursors: about 20 KB of JSON).
 */
export const SUBSCRIBE_BATCH = 128;

/** Limits shared by the server (to refuse) and the widget (to know what to expect). */
export const LIMITS = {
  titleChars: 200,
  messageChars: 2_000,
  logLineChars: 8_000,
  logLinesPerPost: 500,
  logsPageMax: LOGS_PAGE_MAX,
  tailLines: TAIL_LINES,
  subscribeBatch: SUBSCRIBE_BATCH,
} as const;

// WebSocket close codes we use (RFC 6455 §7.4 and the IANA registry).
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_UNSUPPORTED_DATA = 1003;
/**
 * The client broke a rule of the protocol (sends too fast, sends garbage). Not a refusal of
 * the WebSocket itself: a client should back off and try again, not give up on it.
 */
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;
export const CLOSE_SERVICE_RESTART = 1012;
export const CLOSE_TRY_AGAIN_LATER = 1013;

export const CLOSE_CODES = {
  normal: CLOSE_NORMAL,
  goingAway: CLOSE_GOING_AWAY,
  unsupportedData: CLOSE_UNSUPPORTED_DATA,
  policyViolation: CLOSE_POLICY_VIOLATION,
  messageTooBig: CLOSE_MESSAGE_TOO_BIG,
  internalError: CLOSE_INTERNAL_ERROR,
  serviceRestart: CLOSE_SERVICE_RESTART,
  tryAgainLater: CLOSE_TRY_AGAIN_LATER,
} as const;
