import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildWidgetBundle } from '../../scripts/build-widget.js';

/**
 * The embeddable file's ceiling, minified + gzip -9 with Lit included. Issue 12 set it at 16 KB
 * and let it rise to 16.5 KB for readable code, said so in BENCHMARKS.md: protocol v2 (batched
 * subscribes, request ids, per-task retries) took the file from 16,128 B to 16,849 B, and the
 * readable connection layer is loaded partly on demand (the sharing between tabs) to stay within.
 */
const CEILING_BYTES = 16.5 * 1024;
/** Each part loaded on demand; small, or it should not be a round trip of its own. */
const LAZY_CEILING_BYTES = 4 * 1024;

describe('the embeddable bundle', () => {
  it(`stays within ${CEILING_BYTES} B minified + gzip -9, Lit included`, async () => {
    // The production build, in memory, so a fresh clone (no dist/ yet) checks it too.
    const { code, modules } = await buildWidgetBundle();
    const size = gzipSync(code, { level: 9 }).length;
    const biggest = modules
      .slice(0, 6)
      .map(({ id, length }) => `${id} ${length} B`)
      .join(', ');
    console.log(`widget: ${size} B gzipped (ceiling ${CEILING_BYTES} B, ${CEILING_BYTES - size} B to spare)`);
    assert.ok(
      size <= CEILING_BYTES,
      `the widget is ${size} B gzipped, over the ${CEILING_BYTES} B ceiling; largest inputs before minifying: ${biggest}`,
    );
  });

  it('needs no other file to run: the parts loaded on demand are only imported dynamically', async () => {
    const { staticImports, lazyChunks } = await buildWidgetBundle();
    assert.deepEqual(
      staticImports,
      [],
      'a module shared by the main file and a lazy part became a file of its own',
    );
    assert.ok(
      lazyChunks.some(({ fileName }) => fileName.startsWith('tab-sharing')),
      `${lazyChunks.map((c) => c.fileName)}`,
    );
  });

  it(`keeps each part loaded on demand within ${LAZY_CEILING_BYTES} B minified + gzip -9`, async () => {
    const { lazyChunks } = await buildWidgetBundle();
    for (const { fileName, code } of lazyChunks) {
      const size = gzipSync(code, { level: 9 }).length;
      console.log(`on demand: ${fileName} ${size} B gzipped`);
      assert.ok(size <= LAZY_CEILING_BYTES, `${fileName} is ${size} B gzipped`);
    }
  });
});
