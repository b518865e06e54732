import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { minifyHtmlTemplates, STYLES_MODULE, stylesModule } from '../../scripts/build-widget.js';
import type { UserConfig } from 'vite';
import { precompress } from '../../scripts/precompress.js';

describe('the widget build (scripts/build-widget.ts)', () => {
  it('ships the styles as agent-task-status.styles.ts, generated from agent-task-status.css as it is now', async () => {
    assert.equal(
      readFileSync(STYLES_MODULE, 'utf8'),
      await stylesModule(),
      'agent-task-status.styles.ts is stale: run npm run build (or node --import tsx scripts/build-widget.ts)',
    );
  });

  it('drops the indentation of Lit templates but keeps their line breaks and every other character', () => {
    const source = [
      'const a = html`<ol>',
      '    ${items.map((i) => html`<li part="x">',
      '        <b>${i}</b> text',
      '      </li>`)}',
      '  </ol>`;',
      'const b = `keep   ',
      '    this`;',
      'const c = css`  :host {}`; // not html',
    ].join('\n');
    assert.equal(
      minifyHtmlTemplates(source, 'x.ts'),
      [
        'const a = html`<ol>',
        '${items.map((i) => html`<li part="x">',
        '<b>${i}</b> text',
        '</li>`)}',
        '</ol>`;',
        'const b = `keep   ',
        '    this`;',
        'const c = css`  :host {}`; // not html',
      ].join('\n'),
    );
  });

  it('writes a gzip and a Brotli copy of each script, stylesheet and page it emits, and of nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ats-precompress-'));
    try {
      const code = `export const a = ${JSON.stringify('a'.repeat(500))};\n`;
      const bundle = {
        'agent-task-status.js': { type: 'chunk', code },
        'demo.css': { type: 'asset', source: 'p { color: red }' },
        'logo.png': { type: 'asset', source: new Uint8Array([137, 80, 78, 71]) },
      };
      const hook = precompress().writeBundle as (options: { dir: string }, bundle: object) => void;
      hook({ dir }, bundle);
      assert.equal(gunzipSync(readFileSync(join(dir, 'agent-task-status.js.gz'))).toString(), code);
      assert.equal(brotliDecompressSync(readFileSync(join(dir, 'agent-task-status.js.br'))).toString(), code);
      assert.equal(gunzipSync(readFileSync(join(dir, 'demo.css.gz'))).toString(), 'p { color: red }');
      assert.ok(!existsSync(join(dir, 'logo.png.gz')), 'an image is already compressed');
      assert.ok(readFileSync(join(dir, 'agent-task-status.js.br')).length < code.length / 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compresses in both builds, the widget and the demo (the server sends those copies)', async () => {
    for (const file of ['vite.config.ts', 'vite.demo.config.ts']) {
      const { default: config } = (await import(`../../${file}`)) as { default: UserConfig };
      const names = (config.plugins ?? []).flat().map((plugin) => (plugin as { name?: string }).name);
      assert.ok(names.includes('precompress'), `${file} has no precompress() plugin: ${names.join(', ')}`);
    }
  });
});
