export * from './constants.js';
export * from './phases.js';
export * from './ids.js';
export * from './task.js';
export * from './http.js';
export * from './ws-messages.js';
export * from './routes.js';
export * from './viewer-token.js';
