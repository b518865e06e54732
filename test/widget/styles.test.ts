import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { STYLES_MODULE, stylesModule } from '../../scripts/build-widget.js';

describe("the element's styles", () => {
  it('ship as agent-task-status.styles.ts, generated from agent-task-status.css as it is now', async () => {
    assert.equal(
      readFileSync(STYLES_MODULE, 'utf8'),
      await stylesModule(),
      'agent-task-status.styles.ts is stale: run npm run build (or node --import tsx scripts/build-widget.ts)',
    );
  });
});
