import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Declaration {
  customElement?: boolean;
  tagName?: string;
  attributes?: { name: string }[];
  events?: { name: string }[];
  cssParts?: { name: string }[];
  cssProperties?: { name: string; default?: string }[];
}

function elementOf(manifest: { modules: { declarations?: Declaration[] }[] }): Declaration {
  const found = manifest.modules.flatMap((m) => m.declarations ?? []).find((d) => d.customElement);
  assert.ok(found, 'the manifest describes a custom element');
  return found;
}

describe('custom-elements.json', () => {
  it('is what the analyzer makes of the element today (run `npm run manifest` after changing its JSDoc)', () => {
    const out = mkdtempSync(join(tmpdir(), 'cem-'));
    try {
      execFileSync(
        join(ROOT, 'node_modules/.bin/cem'),
        // The analyzer joins --outdir to the working directory, so pass it relative.
        [
          'analyze',
          '--config',
          'custom-elements-manifest.config.mjs',
          '--outdir',
          relative(ROOT, out),
          '--quiet',
        ],
        { cwd: ROOT, stdio: 'pipe' },
      );
      const fresh = JSON.parse(readFileSync(join(out, 'custom-elements.json'), 'utf8'));
      const committed = JSON.parse(readFileSync(join(ROOT, 'custom-elements.json'), 'utf8'));
      assert.deepEqual(committed, fresh);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('documents the public contract: tag, attributes, events, parts and custom properties', () => {
    const element = elementOf(JSON.parse(readFileSync(join(ROOT, 'custom-elements.json'), 'utf8')));
    assert.equal(element.tagName, 'agent-task-status');
    assert.deepEqual(
      element.attributes?.map((a) => a.name),
      ['task-id', 'agent-id', 'endpoint', 'mode', 'poll-interval', 'access-token'],
    );
    assert.deepEqual(
      element.events?.map((e) => e.name),
      ['agent-task-status-change', 'agent-task-connection-change'],
    );
    for (const part of ['base', 'indicator', 'label', 'stepper', 'progress', 'banner', 'logs', 'log-line']) {
      assert.ok(
        element.cssParts?.some((p) => p.name === part),
        `part ${part}`,
      );
    }
    assert.ok((element.cssProperties?.length ?? 0) >= 10);
    assert.ok(element.cssProperties?.every((p) => p.name.startsWith('--ats-')));
  });
});
