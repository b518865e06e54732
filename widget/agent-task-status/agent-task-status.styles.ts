import { css } from 'lit';

export const styles = css`
  :host {
    --ats-font-family: system-ui, sans-serif;
    --ats-font-size: 0.875rem;
    --ats-log-font-family: ui-monospace, monospace;
    --ats-background: #fff;
    --ats-foreground: #1f2328;
    --ats-muted: #59636e;
    --ats-border-color: #d1d9e0;
    --ats-color-accent: #0969da;
    --ats-color-success: #1a7f37;
    --ats-color-danger: #d1242f;
    --ats-color-warning: #9a6700;
    --ats-radius: 6px;
    --ats-spacing: 0.75rem;
    --ats-log-max-height: 16rem;
    display: block;
    font: var(--ats-font-size) / 1.45 var(--ats-font-family);
    color: var(--ats-foreground);
  }
  @media (prefers-color-scheme: dark) {
    :host {
      --ats-background: #0d1117;
      --ats-foreground: #e6edf3;
      --ats-muted: #9198a1;
      --ats-border-color: #3d444d;
      --ats-color-accent: #4493f8;
      --ats-color-success: #3fb950;
      --ats-color-danger: #f85149;
      --ats-color-warning: #d29922;
    }
  }
  :host([hidden]) {
    display: none;
  }
  .base {
    display: grid;
    gap: calc(var(--ats-spacing) * 0.75);
    padding: var(--ats-spacing);
    background: var(--ats-background);
    border: 1px solid var(--ats-border-color);
    border-radius: var(--ats-radius);
  }
  p,
  ol {
    margin: 0;
  }
  .head {
    display: flex;
    align-items: center;
    gap: 0.5em;
    font-weight: 600;
  }
  .indicator {
    display: inline-grid;
    place-items: center;
    width: 1.4em;
    height: 1.4em;
    border-radius: 50%;
    color: var(--ats-background);
    background: var(--ats-muted);
    font-size: 0.8em;
  }
  [data-phase='starting'] .indicator,
  [data-phase='running'] .indicator,
  [data-phase='completing'] .indicator {
    background: var(--ats-color-accent);
  }
  [data-phase='running'] .indicator {
    animation: pulse 1.6s ease-in-out infinite;
  }
  [data-phase='completed'] .indicator {
    background: var(--ats-color-success);
  }
  [data-phase='failed'] .indicator {
    background: var(--ats-color-danger);
  }
  @keyframes pulse {
    50% {
      opacity: 0.55;
    }
  }
  .percent,
  .muted {
    color: var(--ats-muted);
    font-weight: 400;
  }
  .percent {
    margin-left: auto;
  }
  .title {
    font-weight: 600;
  }
  .title,
  .message,
  .log-list li {
    overflow-wrap: anywhere;
  }
  .stepper {
    display: flex;
    padding: 0;
    list-style: none;
    gap: 0.25rem;
  }
  .stepper li {
    flex: 1;
    padding-top: 0.35rem;
    border-top: 3px solid var(--ats-border-color);
    color: var(--ats-muted);
  }
  .stepper [data-state='done'],
  .stepper [aria-current] {
    border-color: var(--ats-color-accent);
    color: var(--ats-foreground);
  }
  .stepper [aria-current] {
    font-weight: 600;
  }
  [data-phase='completed'] .stepper li {
    border-color: var(--ats-color-success);
  }
  [data-phase='failed'] .stepper [aria-current] {
    border-color: var(--ats-color-danger);
    color: var(--ats-color-danger);
  }
  .progress {
    height: 0.5rem;
    border-radius: 999px;
    background: var(--ats-border-color);
    overflow: hidden;
  }
  .bar {
    height: 100%;
    background: var(--ats-color-accent);
    transition: width 0.3s;
  }
  .banner {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    gap: 0.5rem;
    padding: 0.5rem 0.75rem;
    border-left: 4px solid var(--ats-color-warning);
    border-radius: var(--ats-radius);
    background: color-mix(in srgb, var(--ats-color-warning) 12%, var(--ats-background));
  }
  .banner p {
    flex: 1;
  }
  button {
    font: inherit;
    color: inherit;
    background: var(--ats-background);
    border: 1px solid var(--ats-border-color);
    border-radius: var(--ats-radius);
    padding: 0.2rem 0.7rem;
    cursor: pointer;
  }
  button:hover {
    border-color: var(--ats-color-accent);
  }
  :focus-visible {
    outline: 2px solid var(--ats-color-accent);
    outline-offset: 2px;
  }
  summary {
    cursor: pointer;
    width: max-content;
  }
  .logs > * {
    margin-top: 0.4rem;
  }
  .log-list {
    max-height: var(--ats-log-max-height);
    overflow: auto;
    border: 1px solid var(--ats-border-color);
    border-radius: var(--ats-radius);
    padding: 0.25rem 0.5rem;
    font: 0.8rem / 1.5 var(--ats-log-font-family);
  }
  .log-list ol {
    padding: 0;
    list-style: none;
  }
  .log-list li {
    white-space: pre-wrap;
  }
  .level {
    display: inline-block;
    min-width: 5ch;
    text-transform: uppercase;
    font-weight: 600;
  }
  [data-level='warn'] .level {
    color: var(--ats-color-warning);
  }
  [data-level='error'] .level {
    color: var(--ats-color-danger);
  }
  .vh {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
  @media (prefers-reduced-motion: reduce) {
    * {
      animation: none !important;
      transition: none !important;
    }
  }
  @media (forced-colors: active) {
    .base,
    .banner,
    .progress,
    .log-list {
      border: 1px solid CanvasText;
    }
    .indicator {
      forced-color-adjust: none;
      background: Canvas;
      color: CanvasText;
      border: 1px solid CanvasText;
    }
    .bar {
      background: Highlight;
    }
    .stepper li {
      border-color: GrayText;
    }
    .stepper [data-state='done'],
    .stepper [aria-current] {
      border-color: Highlight;
    }
    :focus-visible {
      outline-color: Highlight;
    }
  }
`;
