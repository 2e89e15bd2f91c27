import { describe, expect, it } from 'vitest';
import { compileModel } from '../schemas/index.js';
import { computeDelta } from './document.js';
import { emptyDevice, mergeUpdate, type MergeContext, type MergeSuccess, type UpdateOrigin } from './merge.js';
import type { ParsedUpdate, TwinPatch } from './parse.js';
import type { DeviceTwinState } from './types.js';

const model = compileModel({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'thermostat',
  type: 'object',
  properties: {
    temperature: { type: 'number', minimum: -40, maximum: 125, readOnly: true },
    setpoint: { type: 'number', minimum: 5, maximum: 35 },
    mode: { type: 'string', enum: ['off', 'heat', 'cool'] },
    power: { type: 'boolean' },
    count: { type: 'integer' },
  },
  additionalProperties: false,
});

const T0 = 1_700_000_000_000;

function ctx(origin: UpdateOrigin = 'edge', now = T0): MergeContext {
  return { now, origin, properties: model.properties };
}

function upd(twins: Record<string, TwinPatch | null>, version?: number): ParsedUpdate {
  return { eventId: 'e', twins: new Map(Object.entries(twins)), ...(version !== undefined ? { version } : {}) };
}

function ok(state: DeviceTwinState, twins: Record<string, TwinPatch | null>, c = ctx(), version?: number): MergeSuccess {
  const out = mergeUpdate(state, upd(twins, version), c);
  if (!out.ok) throw new Error(`expected success, got ${out.error.code}: ${out.error.message}`);
  return out;
}

const empty = emptyDevice('default', 'thermo');

describe('mergeUpdate: accepted updates', () => {
  it('creates a twin with KubeEdge defaults (optional true, versions edge 1, edge timestamps)', () => {
    const out = ok(empty, { setpoint: { expected: '21', actual: '20.5' } });
    const t = out.next.twins.setpoint!;
    expect(t).toMatchObject({ optional: true, type: 'float', expected: { value: '21', timestamp: T0 }, actual: { value: '20.5', timestamp: T0 } });
    expect(t.expectedVersion).toEqual({ cloud: 0, edge: 1 });
    expect(t.actualVersion).toEqual({ cloud: 0, edge: 1 });
    expect(t.ack?.state).toBe('pending');
    expect(out.changed).toEqual(['setpoint']);
    expect(out.next.version).toBe(1);
    expect(out.document.setpoint).toEqual({ last: null, current: out.result.setpoint });
  });

  it.each([
    ['float with exponent', 'setpoint', '2.1e1', '21'],
    ['float with sign and spaces', 'setpoint', ' +21.50 ', '21.5'],
    ['integer', 'count', '-7', '-7'],
    ['boolean, any case', 'power', 'TRUE', 'true'],
    ['enum string', 'mode', 'heat', 'heat'],
  ])('stores the canonical form of a %s', (_label, key, wire, canonical) => {
    const out = ok(empty, { [key]: { actual: wire } });
    expect(out.next.twins[key]?.actual?.value).toBe(canonical);
  });

  it('does not change (nor version) a twin when the values are the same', () => {
    const a = ok(empty, { setpoint: { expected: '21', actual: '21' } }).next;
    const b = ok(a, { setpoint: { expected: '21.0', actual: '2.1e1' } }, ctx('edge', T0 + 5));
    expect(b.next).toBe(a);
    expect(b.changed).toEqual([]);
    expect(b.document).toEqual({});
    expect(b.result.setpoint?.expected?.metadata?.timestamp).toBe(T0);
  });

  it('bumps only the side that changed, by origin', () => {
    const a = ok(empty, { setpoint: { expected: '21', actual: '20' } }).next;
    const b = ok(a, { setpoint: { actual: '20.5' } }).next;
    expect(b.twins.setpoint!.expectedVersion).toEqual({ cloud: 0, edge: 1 });
    expect(b.twins.setpoint!.actualVersion).toEqual({ cloud: 0, edge: 2 });
    const c = ok(b, { setpoint: { expected: '22' } }, ctx('cloud')).next;
    expect(c.twins.setpoint!.expectedVersion).toEqual({ cloud: 1, edge: 1 });
    expect(c.version).toBe(3);
  });

  it('lets optional go true → false but never back', () => {
    const a = ok(empty, { mode: { actual: 'off', optional: false } }).next;
    expect(a.twins.mode!.optional).toBe(false);
    const b = ok(a, { mode: { optional: true } });
    expect(b.next.twins.mode!.optional).toBe(false);
    expect(b.changed).toEqual([]);
  });

  it('soft-deletes an optional twin and keeps its versions; ignores delete of a non-optional one', () => {
    const a = ok(empty, { mode: { actual: 'off' }, power: { actual: 'true', optional: false } }).next;
    const b = ok(a, { mode: null, power: null });
    expect(b.changed).toEqual(['mode']);
    expect(b.next.twins.mode).toEqual({ optional: true, type: 'deleted', expectedVersion: { cloud: 0, edge: 0 }, actualVersion: { cloud: 0, edge: 1 } });
    expect(b.result.mode).toBeNull();
    // KubeEdge's dealTwinDelete answers nothing for a delete it ignores.
    expect(b.result).not.toHaveProperty('power');
    expect(b.document.mode!.current).toBeNull();
    expect(b.next.twins.power!.actual!.value).toBe('true');
    // A deleted twin is re-created by the next write, with its versions carried on.
    const c = ok(b.next, { mode: { actual: 'heat' } }).next;
    expect(c.twins.mode).toMatchObject({ type: 'string', actual: { value: 'heat' }, actualVersion: { cloud: 0, edge: 2 } });
  });

  it('accepts a matching version and advances it', () => {
    const a = ok(empty, { setpoint: { expected: '21' } }).next;
    expect(ok(a, { setpoint: { expected: '22' } }, ctx(), 1).next.version).toBe(2);
  });

  it.each([
    ['int', 'count', 'integer'],
    ['float', 'setpoint', 'float'],
    ['float', 'setpoint', 'DOUBLE'],
    ['boolean', 'power', 'boolean'],
    ['string', 'mode', 'string'],
  ])('accepts metadata.type compatible with %s', (_t, key, type) => {
    const value = key === 'power' ? 'true' : key === 'mode' ? 'off' : '7';
    expect(ok(empty, { [key]: { actual: value, type } }).changed).toEqual([key]);
  });
});

describe('mergeUpdate: KubeEdge\'s metadata.type "Updated" (the legacy example apps)', () => {
  it('is accepted on a twin\'s first write and on later ones: the model\'s type is the stored type', () => {
    const first = ok(empty, { mode: { actual: 'off', type: 'Updated' } });
    expect(first.next.twins.mode).toMatchObject({ type: 'string', actual: { value: 'off' } });
    expect(first.result.mode?.metadata).toEqual({ type: 'string' });
    const later = ok(first.next, { mode: { actual: 'heat', type: 'Updated' }, setpoint: { actual: '20', type: 'updated' } });
    expect(later.next.twins.mode!.actual!.value).toBe('heat');
    expect(later.next.twins.setpoint).toMatchObject({ type: 'float', actual: { value: '20' } });
  });

  it('a "deleted" label over MQTT deletes nothing (only a cloud sync deletes by type)', () => {
    const a = ok(empty, { mode: { actual: 'off' } }).next;
    const b = ok(a, { mode: { actual: 'heat', type: 'deleted' } });
    expect(b.next.twins.mode).toMatchObject({ type: 'string', actual: { value: 'heat' } });
  });
});

describe('mergeUpdate: the update result (KubeEdge dealTwinAdd / dealTwinCompare)', () => {
  it('answers a new twin whole, an existing one with only the sides the message named', () => {
    const created = ok(empty, { setpoint: { expected: '21' } }, ctx('edge', T0));
    expect(created.result.setpoint).toEqual({
      expected: { value: '21', metadata: { timestamp: T0 } },
      optional: true,
      metadata: { type: 'float' },
      ack: { state: 'pending', timestamp: T0 },
    });
    const reported = ok(created.next, { setpoint: { actual: '20' } }, ctx('edge', T0 + 5));
    expect(reported.result.setpoint).toEqual({ actual: { value: '20', metadata: { timestamp: T0 + 5 } }, optional: true, metadata: { type: 'float' } });
    const both = ok(reported.next, { setpoint: { expected: '22', actual: '20' } }, ctx('edge', T0 + 9));
    expect(both.result.setpoint).toEqual({
      expected: { value: '22', metadata: { timestamp: T0 + 9 } },
      actual: { value: '20', metadata: { timestamp: T0 + 5 } },
      optional: true,
      metadata: { type: 'float' },
      ack: { state: 'pending', timestamp: T0 + 9 },
    });
    const optionalOnly = ok(both.next, { setpoint: { optional: false } });
    expect(optionalOnly.result.setpoint).toEqual({ optional: false, metadata: { type: 'float' } });
  });
});

describe('mergeUpdate: the desired-value ack', () => {
  const withDesired = ok(empty, { setpoint: { expected: '21' } }).next;

  it('applies an ack for the current desired value', () => {
    const out = ok(withDesired, { setpoint: { actual: '21', ack: { state: 'applied', value: '21.0' } } }, ctx('edge', T0 + 10));
    expect(out.next.twins.setpoint!.ack).toEqual({ state: 'applied', timestamp: T0 + 10 });
  });

  it('keeps code and reason of a failed ack', () => {
    const out = ok(withDesired, { setpoint: { ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', reason: 'no answer' } } });
    expect(out.next.twins.setpoint!.ack).toMatchObject({ state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', reason: 'no answer' });
  });

  it('ignores an ack for a desired value that has since changed', () => {
    const out = ok(withDesired, { setpoint: { ack: { state: 'applied', value: '19' } } });
    expect(out.changed).toEqual([]);
    expect(out.next.twins.setpoint!.ack!.state).toBe('pending');
  });

  it('resets the ack to pending when a new desired value arrives', () => {
    const applied = ok(withDesired, { setpoint: { ack: { state: 'applied' } } }).next;
    expect(ok(applied, { setpoint: { expected: '23' } }).next.twins.setpoint!.ack!.state).toBe('pending');
  });

  describe('setting the same value again', () => {
    const failed = ok(withDesired, { setpoint: { actual: '20', ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', reason: 'no answer' } } }).next;

    it.each(['failed', 'rejected'] as const)('re-opens a %s desired value: ack pending, a new version, the delta open again', (state) => {
      const before = ok(withDesired, { setpoint: { actual: '20', ack: { state, code: 'EDGETWIN_ERR_MAPPER_TIMEOUT' } } }).next;
      const out = ok(before, { setpoint: { expected: '21.0' } }, ctx('edge', T0 + 50));
      expect(out.changed).toEqual(['setpoint']);
      expect(out.next.version).toBe(before.version + 1);
      expect(out.next.twins.setpoint!.ack).toEqual({ state: 'pending', timestamp: T0 + 50 });
      expect(out.next.twins.setpoint!.expected).toEqual({ value: '21', timestamp: T0 + 50 });
      expect(out.next.twins.setpoint!.expectedVersion.edge).toBe(before.twins.setpoint!.expectedVersion.edge + 1);
      expect(out.document.setpoint!.last!.ack!.state).toBe(state);
      expect(computeDelta(out.next)?.delta).toEqual({ setpoint: '21' });
    });

    it('changes nothing while the value is pending or applied', () => {
      expect(ok(withDesired, { setpoint: { expected: '21' } }).changed).toEqual([]);
      const applied = ok(withDesired, { setpoint: { actual: '21', ack: { state: 'applied' } } }).next;
      expect(ok(applied, { setpoint: { expected: '21' } }).changed).toEqual([]);
    });

    it('is not re-opened by a mapper echoing the twin back with its reading or an ack', () => {
      expect(ok(failed, { setpoint: { expected: '21', actual: '20' } }).changed).toEqual([]);
      expect(ok(failed, { setpoint: { expected: '21', ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', reason: 'no answer' } } }).changed).toEqual([]);
    });
  });
});

describe('mergeUpdate: rejected updates change nothing', () => {
  const base = ok(empty, { setpoint: { expected: '21', actual: '20' }, mode: { actual: 'off' } }).next;

  it.each<[string, Record<string, TwinPatch | null>, string]>([
    ['an unknown property', { humidity: { actual: '40' } }, 'EDGETWIN_ERR_PROPERTY_UNKNOWN'],
    ['a key KubeEdge forbids', { 'set point': { actual: '1' } }, 'EDGETWIN_ERR_PROPERTY_NAME'],
    ['a value that is not a number', { setpoint: { actual: 'warm' } }, 'EDGETWIN_ERR_VALUE_TYPE'],
    ['an empty number', { setpoint: { actual: '' } }, 'EDGETWIN_ERR_VALUE_TYPE'],
    ['a value above maximum', { setpoint: { expected: '99' } }, 'EDGETWIN_ERR_MODEL_VALIDATION'],
    ['a value below minimum', { temperature: { actual: '-41' } }, 'EDGETWIN_ERR_MODEL_VALIDATION'],
    ['a value outside the enum', { mode: { expected: 'auto' } }, 'EDGETWIN_ERR_MODEL_VALIDATION'],
    ['a non-integer for an integer', { count: { actual: '1.5' } }, 'EDGETWIN_ERR_VALUE_TYPE'],
    ['a boolean that is not true/false', { power: { actual: 'yes' } }, 'EDGETWIN_ERR_VALUE_TYPE'],
    ['a desired value for a readOnly property', { temperature: { expected: '20' } }, 'EDGETWIN_ERR_PROPERTY_READ_ONLY'],
    ['a contradicting metadata.type', { setpoint: { actual: '20', type: 'boolean' } }, 'EDGETWIN_ERR_TYPE_MISMATCH'],
    ['one bad key among good ones', { setpoint: { actual: '22' }, mode: { expected: 'auto' } }, 'EDGETWIN_ERR_MODEL_VALIDATION'],
  ])('rejects %s', (_label, twins, code) => {
    const out = mergeUpdate(base, upd(twins), ctx());
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error.code).toBe(code);
    expect(out.error.status).toBe(400);
    expect(out.error.details.length).toBeGreaterThan(0);
  });

  it('lists every failing key, not just the first', () => {
    const out = mergeUpdate(base, upd({ setpoint: { expected: '99' }, mode: { expected: 'auto' }, nope: { actual: '1' } }), ctx());
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error.details.map((d) => d.path)).toEqual(['setpoint', 'mode', 'nope']);
  });

  it('rejects a stale version with 409', () => {
    const out = mergeUpdate(base, upd({ setpoint: { expected: '22' } }, 0), ctx());
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error.code).toBe('EDGETWIN_ERR_TWIN_VERSION_CONFLICT');
      expect(out.error.status).toBe(409);
    }
  });
});

describe('mergeUpdate: cloud sync with versions (twin/cloud_updated)', () => {
  const edgeWritten = ok(empty, { setpoint: { expected: '21' } }).next; // expected edge version 1

  it('adopts the versions of a sync that is not older', () => {
    const out = ok(edgeWritten, { setpoint: { expected: '25', expectedVersion: { cloud: 7, edge: 1 } } }, ctx('sync'));
    expect(out.next.twins.setpoint!.expectedVersion).toEqual({ cloud: 7, edge: 1 });
  });

  it.each([
    ['without versions', undefined],
    ['older than an edge write', { cloud: 7, edge: 0 }],
  ])('rejects a sync %s', (_label, expectedVersion) => {
    const patch: TwinPatch = expectedVersion ? { expected: '25', expectedVersion } : { expected: '25' };
    const out = mergeUpdate(edgeWritten, upd({ setpoint: patch }), ctx('sync'));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error.code).toBe('EDGETWIN_ERR_TWIN_VERSION_CONFLICT');
  });

  it('deletes with metadata.type "deleted"', () => {
    expect(ok(edgeWritten, { setpoint: { type: 'deleted' } }, ctx('sync')).next.twins.setpoint!.type).toBe('deleted');
  });
});

describe('computeDelta', () => {
  it('covers all twins whose desired differs from the actual value, skipping deleted ones', () => {
    let s = ok(empty, { setpoint: { expected: '21', actual: '20' }, mode: { expected: 'heat', actual: 'heat' }, power: { expected: 'true' } }).next;
    expect(computeDelta(s)?.delta).toEqual({ setpoint: '21', power: 'true' });
    s = ok(s, { power: null }).next;
    expect(computeDelta(s)?.delta).toEqual({ setpoint: '21' });
    // KubeEdge's BuildDeviceTwinDelta: `twin` lists every non-deleted twin with an expected
    // value, equal to its actual or not (the traffic-light mapper reads all of them from it).
    expect(Object.keys(computeDelta(s)!.twin).sort()).toEqual(['mode', 'setpoint']);
    expect(computeDelta(s)!.twin.mode).toMatchObject({ expected: { value: 'heat' }, actual: { value: 'heat' }, optional: true, metadata: { type: 'string' } });
    expect(computeDelta(s)!.twin.mode).not.toHaveProperty('expected_version');
    s = ok(s, { setpoint: { actual: '21.0' } }).next;
    expect(computeDelta(s)).toBeUndefined();
  });
});
