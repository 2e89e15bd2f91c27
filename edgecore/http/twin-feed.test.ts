import { describe, expect, it } from 'vitest';
import type { DeviceTwinState, TwinState } from '../../devicetwin/index.js';
import { describeChange } from './twin-feed.js';

const V = { cloud: 0, edge: 0 };
function twin(t: Partial<TwinState>): TwinState {
  return { optional: true, type: 'float', expectedVersion: V, actualVersion: V, ...t };
}
function device(twins: Record<string, TwinState>, state: DeviceTwinState['state'] = 'online'): DeviceTwinState {
  return { id: 'default/t', namespace: 'default', name: 't', version: 1, twins, state, lastOnline: '' };
}

describe('describeChange', () => {
  it('names reported and desired values, the delta a desired value opens, and the state change', () => {
    const prev = device({ setpoint: twin({ actual: { value: '21', timestamp: 1 } }) }, 'unknown');
    const next = device({ setpoint: twin({ actual: { value: '21', timestamp: 1 }, expected: { value: '23', timestamp: 5 }, ack: { state: 'pending', timestamp: 5 } }) });
    expect(describeChange(prev, next, ['setpoint'], 9).map((e) => [e.kind, e.text])).toEqual([
      ['state', 'state unknown → online'],
      ['desired', 'setpoint desired 23'],
      ['delta', 'delta: setpoint 21 → 23'],
    ]);
  });

  it('turns an ack into a result, or an error with its code', () => {
    const prev = device({ setpoint: twin({ expected: { value: '23', timestamp: 5 }, ack: { state: 'pending', timestamp: 5 } }) });
    const applied = device({ setpoint: twin({ expected: { value: '23', timestamp: 5 }, actual: { value: '23', timestamp: 6 }, ack: { state: 'applied', timestamp: 6 } }) });
    expect(describeChange(prev, applied, ['setpoint'], 9).map((e) => e.kind)).toEqual(['reported', 'result']);
    const failed = device({ setpoint: twin({ expected: { value: '23', timestamp: 5 }, ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', reason: 'no answer', timestamp: 7 } }) });
    expect(describeChange(prev, failed, ['setpoint'], 9)).toEqual([
      { t: 7, device: 'default/t', kind: 'error', property: 'setpoint', text: 'setpoint failed (EDGETWIN_ERR_MAPPER_TIMEOUT: no answer)', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' },
    ]);
  });
});
