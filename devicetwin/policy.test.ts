import { describe, expect, it } from 'vitest';
import { compileModel } from '../schemas/index.js';
import { emptyDevice, mergeUpdate } from './merge.js';
import type { TwinPatch } from './parse.js';
import { changeKinds } from './policy.js';
import type { DeviceTwinState } from './types.js';

const model = compileModel({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'thermostat',
  type: 'object',
  properties: { setpoint: { type: 'number', minimum: 5, maximum: 35 } },
  additionalProperties: false,
});

function merged(state: DeviceTwinState, twins: Record<string, TwinPatch>, now: number): { next: DeviceTwinState; changed: readonly string[] } {
  const out = mergeUpdate(state, { eventId: '', twins: new Map(Object.entries(twins)) }, { now, origin: 'edge', properties: model.properties });
  if (!out.ok) throw out.error;
  return out;
}

describe('changeKinds', () => {
  const set = merged(emptyDevice('default', 't'), { setpoint: { expected: '21' } }, 1).next;
  const failed = merged(set, { setpoint: { ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' } } }, 2).next;

  it('a mapper acking is an ack; a new desired value is desired', () => {
    expect(changeKinds(set, failed, ['setpoint'])).toEqual(new Set(['ack']));
    const other = merged(failed, { setpoint: { expected: '22' } }, 3);
    expect(changeKinds(failed, other.next, other.changed)).toEqual(new Set(['desired']));
  });

  it('setting a failed value again is a desired change (a writer may), not an ack (a writer may not)', () => {
    const again = merged(failed, { setpoint: { expected: '21' } }, 3);
    expect(again.next.twins.setpoint!.ack!.state).toBe('pending');
    expect(changeKinds(failed, again.next, again.changed)).toEqual(new Set(['desired']));
  });
});
