import { expect } from '@open-wc/testing';
import { WebSocket as MockWebSocket } from 'mock-socket';
import { canMovePhase } from '../../protocol/phases.js';

describe('the browser test setup', () => {
  it('runs TypeScript from the project in Chromium', () => {
    expect(canMovePhase('running', 'queued')).to.equal(false);
    expect(typeof MockWebSocket).to.equal('function');
  });
});
