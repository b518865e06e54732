import {
  AgentTaskStatus,
  type AgentTaskConnectionChangeDetail,
  type AgentTaskStatusChangeDetail,
} from './agent-task-status.js';

// Guarded: a page may load the widget twice (two bundles, or a bundle and a CDN copy).
if (!customElements.get('agent-task-status')) customElements.define('agent-task-status', AgentTaskStatus);

declare global {
  interface HTMLElementTagNameMap {
    'agent-task-status': AgentTaskStatus;
  }
  interface GlobalEventHandlersEventMap {
    'agent-task-status-change': CustomEvent<AgentTaskStatusChangeDetail>;
    'agent-task-connection-change': CustomEvent<AgentTaskConnectionChangeDetail>;
  }
}

export { AgentTaskStatus };
