import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { infraFiles } from '../../../server/store/dynamodb/table.js';

describe('the table definition', () => {
  it('is the same in infra/ as in the code (regenerate: scripts/create-table.ts --write-infra)', async () => {
    for (const [file, expected] of Object.entries(infraFiles())) {
      const onDisk: unknown = JSON.parse(
        await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8'),
      );
      assert.deepEqual(onDisk, expected, `${file} matches server/store/dynamodb/table.ts`);
    }
  });
});
