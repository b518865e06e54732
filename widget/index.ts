// The embeddable entry (dist/agent-task-status.js): wires the real task feed, then defines
// <agent-task-status>. The element and its controller never import the connection code, so
// tests and other hosts can inject their own TaskFeedFactory through setDefaultFeedFactory.
import { createTaskFeed } from './connection/task-feed.js';
import { setDefaultFeedFactory } from './task-status-controller.js';
import './agent-task-status/define.js';

// Module bodies run after their imports: define.js has already upgraded any <agent-task-status>
// on the page. That is fine because the controller makes its feed on the element's first update,
// a microtask away, by which time this line has run.
setDefaultFeedFactory(createTaskFeed);

export { AgentTaskStatus } from './agent-task-status/agent-task-status.js';
export type {
  AgentTaskConnectionChangeDetail,
  AgentTaskStatusChangeDetail,
} from './agent-task-status/agent-task-status.js';
export { setDefaultFeedFactory, TaskStatusController } from './task-status-controller.js';
export { ConnectionState } from './connection/task-feed-types.js';
export type { FeedView, TaskFeed, TaskFeedConfig, TaskFeedFactory } from './connection/task-feed-types.js';
