import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { minifyHtmlTemplates, STYLES_MODULE, stylesModule } from '../../scripts/build-widget.js';

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
});
