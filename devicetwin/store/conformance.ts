// The conformance suite every TwinStore passes, as aedes-persistence's abstract.js is for aedes
// persistences. Call it from a test file:
//   twinStoreConformance('SqliteTwinStore', (dir) => new SqliteTwinStore({ path: join(dir, 'twins.db') }));
// `makeStore(dir, env)` must return a new, unopened store keeping its data under `dir`; two stores
// made from the same dir (one after the other is closed) see the same data. `env`, when given,
// is the clock and history policy the store must use (history-conformance.ts).
//
// Test-only entry point: it imports vitest, so devicetwin/store/index.ts does not re-export it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { DeviceTwinState, MembershipEntry, StoreChange, StoredData, TwinState } from '../types.js';
import { historyConformance, type MakeStore } from './history-conformance.js';

export type { MakeStore, StoreEnv } from './history-conformance.js';

const T0 = 1_718_000_000_000;

export function twin(fields: Partial<TwinState> = {}): TwinState {
  return { optional: true, type: 'float', expectedVersion: { cloud: 0, edge: 0 }, actualVersion: { cloud: 0, edge: 0 }, ...fields };
}

export function device(id: string, twins: Record<string, TwinState>, version = 1): DeviceTwinState {
  const [namespace = '', name = ''] = id.split('/');
  return { id, namespace, name, version, twins, state: 'unknown', lastOnline: '' };
}

export function member(id: string, fields: Partial<MembershipEntry> = {}): MembershipEntry {
  const [namespace = '', name = ''] = id.split('/');
  return { id, namespace, name, model: 'thermostat', origin: 'manifest', ...fields };
}

/** Every field and variant a twin can hold. */
const FULL_TWINS: Record<string, TwinState> = {
  temperature: twin({ actual: { value: '21.5', timestamp: T0 }, actualVersion: { cloud: 0, edge: 7 }, optional: false }),
  setpoint: twin({
    expected: { value: '22', timestamp: T0 + 1 }, actual: { value: '21', timestamp: T0 + 2 },
    expectedVersion: { cloud: 3, edge: 2 }, actualVersion: { cloud: 1, edge: 9 },
    ack: { state: 'applied', timestamp: T0 + 3 },
  }),
  mode: twin({
    type: 'string', expected: { value: 'heat', timestamp: T0 },
    ack: { state: 'rejected', code: 'EDGETWIN_ERR_TIMEOUT', reason: 'no answer in 2000 ms', timestamp: T0 + 4 },
  }),
  power: twin({ type: 'boolean', expected: { value: 'true', timestamp: T0 }, ack: { state: 'pending', timestamp: T0 } }),
  count: twin({ type: 'int', actual: { value: '-42', timestamp: T0 } }),
  energy: twin({ type: 'double', actual: { value: '1.5e+300', timestamp: T0 } }),
  blob: twin({ type: 'bytes', actual: { value: 'AAEC/w==', timestamp: T0 } }),
  label: twin({ type: 'string', actual: { value: 'a "quoted", spaced ünïcode 🌡 value\n', timestamp: T0 } }),
  // Soft-deleted: no values, versions kept (kubeedge-notes §2, Delete).
  old: twin({ type: 'deleted', expectedVersion: { cloud: 2, edge: 5 }, actualVersion: { cloud: 0, edge: 11 } }),
};

function byId<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function find(data: StoredData, id: string): DeviceTwinState | undefined {
  return data.devices.find((d) => d.id === id);
}

export function twinStoreConformance(label: string, makeStore: MakeStore): void {
  historyConformance(label, makeStore);
  describe(`TwinStore conformance: ${label}`, () => {
    let dir = '';
    const made: TwinStore[] = [];

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'edgetwin-store-'));
    });
    afterEach(async () => {
      await Promise.all(made.splice(0).map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    type TwinStore = ReturnType<MakeStore>;
    async function openStore(): Promise<{ store: TwinStore; data: StoredData }> {
      const store = makeStore(dir);
      made.push(store);
      return { store, data: await store.open() };
    }
    /** Closes `store` and opens a new one on the same data. */
    async function reopen(store: TwinStore): Promise<{ store: TwinStore; data: StoredData }> {
      await store.close();
      return openStore();
    }

    it('opens empty', async () => {
      const { data } = await openStore();
      expect(data).toEqual({ devices: [], members: [] });
    });

    it('round-trips every twin field, including soft-deleted twins', async () => {
      const { store } = await openStore();
      const dev = device('default/thermo-1', FULL_TWINS, 12);
      await store.commit([{ kind: 'twins', device: dev }]);
      const { data } = await reopen(store);
      expect(data.devices).toEqual([dev]);
    });

    it('keeps property names that are also Object.prototype keys', async () => {
      const { store } = await openStore();
      const twins: Record<string, TwinState> = { constructor: twin({ actual: { value: '1', timestamp: T0 } }) };
      Object.defineProperty(twins, '__proto__', { value: twin({ type: 'int' }), enumerable: true, writable: true, configurable: true });
      await store.commit([{ kind: 'twins', device: device('ns/odd', twins) }]);
      const { data } = await reopen(store);
      const stored = find(data, 'ns/odd');
      expect(Object.keys(stored?.twins ?? {}).sort()).toEqual(['__proto__', 'constructor']);
      expect(Object.getOwnPropertyDescriptor(stored?.twins, '__proto__')?.value).toEqual(twin({ type: 'int' }));
    });

    it('stores device state apart from twins and version', async () => {
      const { store } = await openStore();
      const dev = device('default/thermo-1', { t: twin() }, 3);
      await store.commit([{ kind: 'twins', device: dev }]);
      await store.commit([{ kind: 'state', id: dev.id, state: 'online', lastOnline: '2024-06-10T06:13:20Z' }]);
      // A later twins change carries a stale state: the state stays what `state` changes said.
      await store.commit([{ kind: 'twins', device: { ...dev, version: 4 }, changed: [] }]);
      await store.commit([{ kind: 'state', id: 'default/lonely', state: 'offline', lastOnline: '' }]);
      const { data } = await reopen(store);
      expect(find(data, dev.id)).toEqual({ ...dev, version: 4, state: 'online', lastOnline: '2024-06-10T06:13:20Z' });
      expect(find(data, 'default/lonely')).toEqual({
        id: 'default/lonely', namespace: 'default', name: 'lonely', version: 0, twins: {}, state: 'offline', lastOnline: '',
      });
    });

    it('adds, updates and removes members; removal also removes the twins', async () => {
      const { store } = await openStore();
      const a = member('default/a', { description: 'first floor' });
      const b = member('other/b', { origin: 'cluster' });
      await store.commit([{ kind: 'member', entry: a }, { kind: 'member', entry: b }]);
      await store.commit([{ kind: 'twins', device: device(b.id, { t: twin() }) }]);
      const first = await reopen(store);
      expect(byId(first.data.members)).toEqual([a, b]);
      expect(first.data.devices.map((d) => d.id)).toEqual([b.id]);

      const a2 = member(a.id, { model: 'thermostat-v2' });
      await first.store.commit([{ kind: 'member', entry: a2 }, { kind: 'unmember', id: b.id }]);
      const { data } = await reopen(first.store);
      expect(data.members).toEqual([a2]);
      expect(data.devices).toEqual([]);
    });

    it('reopens with everything, many times', async () => {
      let { store } = await openStore();
      const devices = Array.from({ length: 20 }, (_, i) => device(`ns${i % 3}/dev-${i}`, { ...FULL_TWINS }, i));
      await store.commit(devices.map((d) => ({ kind: 'twins', device: d })));
      await store.commit(devices.map((d) => ({ kind: 'member', entry: member(d.id) })));
      for (let i = 0; i < 3; i++) {
        const next = await reopen(store);
        store = next.store;
        expect(byId(next.data.devices)).toEqual(byId(devices));
        expect(byId(next.data.members)).toEqual(byId(devices.map((d) => member(d.id))));
      }
    });

    it('groups the commits of one tick; the last write to a key wins', async () => {
      const { store } = await openStore();
      const id = 'default/burst';
      const commits: Promise<void>[] = [];
      for (let i = 1; i <= 200; i++) {
        const dev = device(id, { t: twin({ actual: { value: String(i), timestamp: T0 + i } }), [`p${i % 7}`]: twin() }, i);
        commits.push(store.commit([{ kind: 'twins', device: dev, changed: ['t', `p${i % 7}`] }]));
        commits.push(store.commit([{ kind: 'state', id, state: i % 2 === 0 ? 'online' : 'offline', lastOnline: String(i) }]));
      }
      await expect(Promise.all(commits)).resolves.toHaveLength(400);
      const { data } = await reopen(store);
      const stored = find(data, id);
      expect(stored?.version).toBe(200);
      expect(stored?.state).toBe('online');
      expect(stored?.lastOnline).toBe('200');
      expect(stored?.twins['t']?.actual).toEqual({ value: '200', timestamp: T0 + 200 });
      expect(Object.keys(stored?.twins ?? {}).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 't']);
    });

    it('applies a group as if its changes ran one by one (removal, then re-creation)', async () => {
      const { store } = await openStore();
      const id = 'default/again';
      await store.commit([{ kind: 'twins', device: device(id, { a: twin(), b: twin() }) }, { kind: 'member', entry: member(id) }]);
      const changes: StoreChange[][] = [
        [{ kind: 'twins', device: device(id, { a: twin(), b: twin(), c: twin() }, 2), changed: ['c'] }],
        [{ kind: 'unmember', id }],
        [{ kind: 'twins', device: device(id, { d: twin({ type: 'int' }) }, 1), changed: ['d'] }],
        [{ kind: 'member', entry: member(id, { origin: 'cluster' }) }],
      ];
      await Promise.all(changes.map((c) => store.commit(c)));
      const { data } = await reopen(store);
      expect(data.devices).toEqual([device(id, { d: twin({ type: 'int' }) }, 1)]);
      expect(data.members).toEqual([member(id, { origin: 'cluster' })]);
    });

    it('writes only the changed properties and keeps the others', async () => {
      const { store } = await openStore();
      const id = 'default/partial';
      const v1 = { a: twin({ actual: { value: '1', timestamp: T0 } }), b: twin(), c: twin({ type: 'string' }) };
      await store.commit([{ kind: 'twins', device: device(id, v1, 1) }]);
      // `a` differs in this object but is not named as changed: the store keeps the stored `a`.
      const v2 = { ...v1, a: twin({ actual: { value: 'unsaved', timestamp: T0 } }), b: twin({ actual: { value: '2', timestamp: T0 } }) };
      await store.commit([{ kind: 'twins', device: device(id, v2, 2), changed: ['b'] }]);
      // A property named as changed but absent from the device is removed.
      const { c: _c, ...v3 } = v2;
      await store.commit([{ kind: 'twins', device: device(id, v3, 3), changed: ['c'] }]);
      const next = await reopen(store);
      expect(find(next.data, id)).toEqual(device(id, { a: v1.a, b: v2.b }, 3));

      // Without `changed`, the device's twins are replaced as a whole.
      await next.store.commit([{ kind: 'twins', device: device(id, { z: twin() }, 4) }]);
      const { data } = await reopen(next.store);
      expect(find(data, id)).toEqual(device(id, { z: twin() }, 4));
    });

    it('close() flushes pending commits before closing', async () => {
      const { store } = await openStore();
      const dev = device('default/late', { t: twin() });
      const pending = store.commit([{ kind: 'twins', device: dev }, { kind: 'member', entry: member(dev.id) }]);
      await store.close();
      await expect(pending).resolves.toBeUndefined();
      const { data } = await openStore();
      expect(data.devices).toEqual([dev]);
      expect(data.members).toEqual([member(dev.id)]);
    });

    it('rejects commits after close() with EDGETWIN_ERR_STORE_CLOSED; close() is idempotent', async () => {
      const { store } = await openStore();
      const closing = store.close();
      await expect(store.commit([{ kind: 'unmember', id: 'a/b' }])).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
      await closing;
      await expect(store.close()).resolves.toBeUndefined();
      await expect(store.commit([])).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
    });

    it('rejects commits before open() with EDGETWIN_ERR_STORE_CLOSED', async () => {
      const store = makeStore(dir);
      made.push(store);
      await expect(store.commit([])).rejects.toMatchObject({ code: 'EDGETWIN_ERR_STORE_CLOSED' });
    });
  });
}
