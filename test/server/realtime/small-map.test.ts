import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SmallMap } from '../../../server/realtime/small-map.js';

describe('SmallMap', () => {
  it('behaves as a Map for one entry and for many', () => {
    const map = new SmallMap<string, number>();
    assert.equal(map.size, 0);
    map.set('a', 1);
    map.set('a', 2);
    assert.equal(map.size, 1);
    assert.equal(map.get('a'), 2);
    map.set('b', 3);
    map.set('c', 4);
    assert.equal(map.size, 3);
    assert.deepEqual(map.keys().sort(), ['a', 'b', 'c']);
    assert.equal(map.delete('a'), true);
    assert.equal(map.delete('a'), false);
    assert.equal(map.has('a'), false);
    assert.equal(map.get('b'), 3);
    // The inline slot is free again, but 'b' lives in the overflow map: setting it must update, not duplicate.
    map.set('b', 5);
    assert.equal(map.size, 2);
    assert.equal(map.get('b'), 5);
    map.set('d', 6);
    assert.equal(map.size, 3);
    map.clear();
    assert.equal(map.size, 0);
    assert.deepEqual(map.keys(), []);
  });
});
