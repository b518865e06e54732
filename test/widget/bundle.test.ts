import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

describe('the connection layer in the widget bundle', () => {
  it('never pulls zod in (the protocol files with schemas are imported for types only)', async () => {
    const result = await build({
      entryPoints: ['widget/connection/task-feed.ts'],
      bundle: true,
      write: false,
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.deepEqual(
      inputs.filter((path) => path.includes('node_modules')),
      [],
      'no dependency at all, zod least of all',
    );
    assert.ok(
      !inputs.some((path) => /protocol\/(http|task|ids|ws-messages|index)\.ts$/.test(path)),
      `${inputs}`,
    );
  });
});
