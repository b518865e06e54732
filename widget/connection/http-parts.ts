// The HTTP side of the connection, in a file of its own that the main one loads on demand
// (on-demand.ts): a page whose panels are all live never polls and rarely fetches a log page.
// Nothing here may import at run time what the main file also does (see PollerConfig.backoff).
export { getJson } from './http-get.js';
export { poller } from './poller.js';
