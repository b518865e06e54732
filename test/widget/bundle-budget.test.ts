import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * Issue 7: the embeddable file, minified + gzip -9 with Lit included, stays within this budget
 * (the target is 12 KB; `npm run bench` measures it beside socket.io-client and centrifuge).
 */
const BUDGET_BYTES = 14 * 1024;
const ENTRY = 'widget/index.ts';
const DIST = 'dist/agent-task-status.js';

const gzip9 = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).length;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) {
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

describe('the embeddable bundle', { skip: !existsSync(ENTRY) && `${ENTRY} does not exist yet` }, () => {
  it('stays within 14 KB minified + gzip -9, Lit included, built from widget/index.ts', async () => {
    // Built here, so a fresh clone (no dist/ yet) checks it too.
    const result = await build({
      entryPoints: [ENTRY],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const size = gzip9(result.outputFiles[0]!.contents);
    const output = Object.values(result.metafile.outputs)[0]!;
    const biggest = Object.entries(output.inputs)
      .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
      .slice(0, 6)
      .map(([path, input]) => `${path} ${input.bytesInOutput} B`)
      .join(', ');
    assert.ok(
      size <= BUDGET_BYTES,
      `the widget is ${size} B gzipped, over the ${BUDGET_BYTES} B budget; largest minified inputs: ${biggest}`,
    );
  });

  it('the built file in dist/ (npm run build) stays within 14 KB too, when it is up to date', (t) => {
    if (!existsSync(DIST) || statSync(DIST).mtimeMs < newestSource('widget')) {
      t.skip('dist/ is missing or older than widget/: npm run build has not run since the last change');
      return;
    }
    const size = gzip9(readFileSync(DIST));
    assert.ok(size <= BUDGET_BYTES, `${DIST} is ${size} B gzipped, over the ${BUDGET_BYTES} B budget`);
  });
});
