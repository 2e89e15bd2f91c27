import { describe, expect, it } from 'vitest';

import { coalesce, splitId } from './coalesce.js';
import { device, member, twin } from './conformance.js';

describe('coalesce', () => {
  it('keeps the last write per key and merges changed properties', () => {
    const id = 'ns/d';
    const plans = coalesce([
      [{ kind: 'twins', device: device(id, { a: twin(), b: twin() }, 1), changed: ['a'] }],
      [{ kind: 'twins', device: device(id, { a: twin({ type: 'int' }), b: twin() }, 2), changed: ['a', 'b'] }],
      [{ kind: 'state', id, state: 'online', lastOnline: 't1' }, { kind: 'state', id, state: 'ok', lastOnline: 't2' }],
    ]);
    expect([...plans.keys()]).toEqual([id]);
    const plan = plans.get(id);
    expect(plan?.device).toEqual({ namespace: 'ns', name: 'd', version: 2 });
    expect(plan?.state).toEqual({ state: 'ok', lastOnline: 't2' });
    expect(plan?.twins).toEqual(new Map([['a', twin({ type: 'int' })], ['b', twin()]]));
    expect(plan?.reset).toBe(false);
    expect(plan?.replaceTwins).toBe(false);
  });

  it('a removal discards what was queued before it, not after', () => {
    const id = 'ns/d';
    const plans = coalesce([[
      { kind: 'member', entry: member(id) },
      { kind: 'twins', device: device(id, { a: twin() }) },
      { kind: 'unmember', id },
      { kind: 'state', id, state: 'offline', lastOnline: '' },
    ]]);
    expect(plans.get(id)).toEqual({
      id, reset: true, replaceTwins: false, twins: new Map(), state: { state: 'offline', lastOnline: '' },
    });
  });

  it('a change without `changed` replaces the whole twin set; a named absent property is deleted', () => {
    const id = 'ns/d';
    const plans = coalesce([[
      { kind: 'twins', device: device(id, { a: twin(), b: twin() }) },
      { kind: 'twins', device: device(id, { a: twin() }), changed: ['b', 'constructor'] },
    ]]);
    expect(plans.get(id)?.replaceTwins).toBe(true);
    expect(plans.get(id)?.twins).toEqual(new Map([['a', twin()], ['b', null], ['constructor', null]]));
  });

  it('splits ids at the first slash', () => {
    expect(splitId('default/thermo-1')).toEqual({ namespace: 'default', name: 'thermo-1' });
    expect(splitId('plain')).toEqual({ namespace: '', name: 'plain' });
  });
});
