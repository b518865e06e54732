import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ENV_VARS } from '../../server/config.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every setting with its real default', () => {
    for (const spec of Object.values(ENV_VARS)) {
      const row = README.split('\n').find((line) => line.startsWith(`| \`${spec.name}\``));
      assert.ok(row, `README's configuration table has no row for ${spec.name}`);
      const documented = row.split('|')[2]!.trim();
      if (spec.default === undefined) assert.match(documented, /unset/, `${spec.name} has no default`);
      else
        assert.ok(
          documented.includes(`\`${spec.default}\``),
          `${spec.name}: README says ${documented}, code says ${spec.default}`,
        );
    }
  });

  it('shows the two commands of the quick start', () => {
    assert.match(README, /^npm start\b/m);
    assert.match(README, /^npm test\b/m);
  });
});
