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

/** Limits shared by the server (to refuse) and the widget (to know what to expect). */
export const LIMITS = {
  titleChars: 200,
  messageChars: 2_000,
  logLineChars: 8_000,
  logLinesPerPost: 500,
  logsPageMax: 1_000,
  /** Lines in a tail read (a fresh panel) unless `limit` says otherwise. */
  tailLines: 200,
  /**
   * Tasks plus agents one `subscribe` may carry. A page of hundreds of panels resubscribes in a
   * few messages, and a message stays far below the default frame limit (128 ids of up to 128
   * characters, with their cursors: about 20 KB of JSON).
   */
  subscribeBatch: 128,
} as const;

/** WebSocket close codes we use (RFC 6455 §7.4 and the IANA registry). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  /**
   * The client broke a rule of the protocol (sends too fast, sends garbage). Not a refusal of
   * the WebSocket itself: a client should back off and try again, not give up on it.
   */
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  serviceRestart: 1012,
  tryAgainLater: 1013,
} as const;
