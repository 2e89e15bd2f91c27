import { describe, expect, it } from 'vitest';
import { decideDesired } from './desired.js';

describe('desired conflict rule', () => {
  it.each([
    // first contact
    [{ cloud: '21', edge: undefined, synced: undefined }, { kind: 'to-twin', value: '21' }],
    [{ cloud: '21', edge: '21', synced: undefined }, { kind: 'agree', value: '21' }],
    [{ cloud: '21', edge: '19', synced: undefined }, { kind: 'to-twin', value: '21' }],
    [{ cloud: undefined, edge: '19', synced: undefined }, { kind: 'agree', value: '19' }],
    [{ cloud: '', edge: undefined, synced: undefined }, { kind: 'agree', value: null }],
    // only the cloud changed
    [{ cloud: '22', edge: '21', synced: '21' }, { kind: 'to-twin', value: '22' }],
    // only the edge changed
    [{ cloud: '21', edge: '23', synced: '21' }, { kind: 'to-cloud', value: '23' }],
    // both changed: the cloud wins
    [{ cloud: '22', edge: '23', synced: '21' }, { kind: 'to-twin', value: '22' }],
    // both changed to the same value
    [{ cloud: '22', edge: '22', synced: '21' }, { kind: 'agree', value: '22' }],
    // the watch echo of our own push is not a cloud change
    [{ cloud: '23', edge: '24', synced: '21', inflight: '23' }, { kind: 'agree', value: '23' }],
    // the cloud dropped its value: keep the edge's, push nothing
    [{ cloud: undefined, edge: '21', synced: '21' }, { kind: 'agree', value: '21' }],
    // nothing changed
    [{ cloud: '21', edge: '21', synced: '21' }, { kind: 'none' }],
    [{ cloud: undefined, edge: undefined, synced: null }, { kind: 'none' }],
  ] as const)('%o → %o', (sides, action) => {
    expect(decideDesired(sides)).toEqual(action);
  });
});
