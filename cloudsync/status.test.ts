import { describe, expect, it } from 'vitest';
import type { TwinState } from '../devicetwin/index.js';
import { advanceRow, crdTwins, patchBody, protectNewer } from './status.js';

const twin = (actual?: [string, number], expected?: [string, number]): TwinState => ({
  optional: true,
  type: 'float',
  expectedVersion: { cloud: 0, edge: 0 },
  actualVersion: { cloud: 0, edge: 0 },
  ...(actual ? { actual: { value: actual[0], timestamp: actual[1] } } : {}),
  ...(expected ? { expected: { value: expected[0], timestamp: expected[1] } } : {}),
});

describe('status rows', () => {
  it('takes the twin\'s values, pending since the first unsent change', () => {
    const a = advanceRow(undefined, twin(['20', 100]), 1)!;
    expect(a).toEqual({ reported: { value: '20', timestamp: 100, type: 'float' }, pendingSince: 1, seq: 1 });
    const b = advanceRow(a, twin(['21', 200], ['22', 150]), 2)!;
    expect(b).toMatchObject({ reported: { value: '21' }, observed: { value: '22' }, pendingSince: 1, seq: 2 });
    expect(advanceRow(b, twin(['21', 200], ['22', 150]), 3)).toBeUndefined();
  });

  it('never moves a reported value back in time', () => {
    const a = advanceRow(undefined, twin(['20', 200]), 1)!;
    expect(advanceRow(a, twin(['19', 100]), 2)).toBeUndefined();
  });

  it('a soft-deleted or empty twin reports nothing new', () => {
    expect(advanceRow(undefined, undefined, 1)).toBeUndefined();
    expect(advanceRow(undefined, { ...twin(['1', 1]), type: 'deleted' }, 1)).toBeUndefined();
  });

  it('builds the CRD twins list in spec order with timestamp and type metadata', () => {
    const rows = new Map([
      ['b', advanceRow(undefined, twin(['2', 20]), 1)!],
      ['a', advanceRow(undefined, twin(undefined, ['1', 10]), 2)!],
    ]);
    expect(crdTwins(['a', 'b', 'c'], rows)).toEqual([
      { propertyName: 'a', observedDesired: { value: '1', metadata: { timestamp: '10', type: 'float' } } },
      { propertyName: 'b', reported: { value: '2', metadata: { timestamp: '20', type: 'float' } } },
    ]);
  });

  it('keeps a newer value the cluster holds instead of overwriting it', () => {
    const ours = [{ propertyName: 'a', reported: { value: 'old', metadata: { timestamp: '10' } }, observedDesired: { value: 'x', metadata: { timestamp: '10' } } }];
    const theirs = [{ propertyName: 'a', reported: { value: 'new', metadata: { timestamp: '20' } }, observedDesired: { value: 'y', metadata: { timestamp: '5' } } }];
    expect(protectNewer(ours, theirs)).toEqual([{ propertyName: 'a', reported: { value: 'new', metadata: { timestamp: '20' } }, observedDesired: { value: 'x', metadata: { timestamp: '10' } } }]);
    expect(protectNewer(ours, undefined)).toEqual(ours);
  });

  it('patches carry the resourceVersion for optimistic concurrency', () => {
    expect(patchBody({ twins: [] }, '7')).toEqual({ metadata: { resourceVersion: '7' }, status: { twins: [] } });
    expect(patchBody({ twins: [] }, undefined)).toEqual({ status: { twins: [] } });
  });
});
