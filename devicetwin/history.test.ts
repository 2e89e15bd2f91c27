import { describe, expect, it } from 'vitest';

import { DEFAULT_HISTORY_POLICY, historyEntries, historyFor, historyPossible } from './history.js';
import type { DeviceTwinState, HistoryPolicy, TwinState } from './types.js';

const V0 = { cloud: 0, edge: 0 };
const twin = (fields: Partial<TwinState> = {}): TwinState => ({ optional: true, type: 'float', expectedVersion: V0, actualVersion: V0, ...fields });
const device = (twins: Record<string, TwinState>): DeviceTwinState => ({ id: 'ns/a', namespace: 'ns', name: 'a', version: 1, twins, state: 'unknown', lastOnline: '' });

describe('historyEntries', () => {
  it('records each new reported and desired value (numbers as numbers) and each ack transition', () => {
    const prev = device({ t: twin({ actual: { value: '20', timestamp: 1 } }), s: twin({ expected: { value: '21', timestamp: 1 }, ack: { state: 'pending', timestamp: 1 } }) });
    const next = device({
      t: twin({ actual: { value: '20.5', timestamp: 5 } }),
      s: twin({ expected: { value: '21', timestamp: 1 }, ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', timestamp: 6 } }),
      m: twin({ type: 'string', expected: { value: 'heat', timestamp: 7 }, ack: { state: 'pending', timestamp: 7 } }),
    });
    expect(historyEntries(prev, next, ['t', 's', 'm'])).toEqual([
      { property: 't', kind: 'reported', timestamp: 5, value: 20.5 },
      { property: 's', kind: 'ack', timestamp: 6, value: 'failed:EDGETWIN_ERR_MAPPER_TIMEOUT' },
      { property: 'm', kind: 'desired', timestamp: 7, value: 'heat' },
      { property: 'm', kind: 'ack', timestamp: 7, value: 'pending' },
    ]);
  });

  it('records nothing for a soft delete, an unchanged twin or a property not named as changed', () => {
    const t = twin({ actual: { value: '1', timestamp: 1 } });
    expect(historyEntries(device({ t }), device({ t: { ...t, type: 'deleted' } }), ['t'])).toEqual([]);
    expect(historyEntries(device({ t }), device({ t: { ...t, optional: false } }), ['t'])).toEqual([]);
    expect(historyEntries(device({}), device({ t }), [])).toEqual([]);
  });

  it('a twin that comes back after a soft delete records its values again', () => {
    const deleted = twin({ type: 'deleted' });
    expect(historyEntries(device({ t: deleted }), device({ t: twin({ actual: { value: '3', timestamp: 9 } }) }), ['t'])).toEqual([
      { property: 't', kind: 'reported', timestamp: 9, value: 3 },
    ]);
  });
});

describe('historyFor', () => {
  const policy: HistoryPolicy = {
    ...DEFAULT_HISTORY_POLICY,
    enabled: false,
    devices: new Map([['ns/a', { maxAgeMs: 5 }]]),
    models: new Map([['meter', { enabled: true, maxAgeMs: 7, maxBytes: 9 }]]),
  };

  it('takes the device entry, then the model entry, then the policy, field by field', () => {
    expect(historyFor(policy, 'ns/a', 'meter')).toEqual({ enabled: true, maxAgeMs: 5, maxBytes: 9 });
    expect(historyFor(policy, 'ns/b', 'meter')).toEqual({ enabled: true, maxAgeMs: 7, maxBytes: 9 });
    expect(historyFor(policy, 'ns/b', 'thermostat')).toEqual({ enabled: false, maxAgeMs: DEFAULT_HISTORY_POLICY.maxAgeMs, maxBytes: DEFAULT_HISTORY_POLICY.maxBytes });
  });

  it('history is possible when on, or when an override turns it on', () => {
    expect(historyPossible(policy)).toBe(true);
    expect(historyPossible({ ...policy, models: new Map() })).toBe(false);
    expect(historyPossible(DEFAULT_HISTORY_POLICY)).toBe(true);
  });
});
