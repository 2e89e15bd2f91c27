// devicetwin setDevices with two origins (issue 5): the cluster's copy of a device wins over a
// local manifest's for the same <ns>/<name>; when the cluster drops it, the manifest's copy takes
// over without the device leaving the node; it leaves only when no origin declares it.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceTwin, SqliteTwinStore } from '../devicetwin/index.js';
import { silentLogger } from '../edgecore/index.js';
import { EmbeddedBroker } from '../eventbus/index.js';
import { compileModel, type DeviceInstance, type DeviceModel } from '../schemas/index.js';
import { tempDir } from './helpers.js';
import { waitFor } from './k8s/fixtures.js';

const schema = (title: string) => ({ $schema: 'https://json-schema.org/draft/2020-12/schema', title, type: 'object', properties: { t: { type: 'integer' } } });
const local = compileModel(schema('local-model'));
const cluster = compileModel(schema('cluster-model'));
const inst = (name: string, model: DeviceModel): { instance: DeviceInstance; model: DeviceModel } => ({
  instance: { namespace: 'default', name, id: `default/${name}`, model: model.name, properties: [{ name: 't' }] },
  model,
});

let tmp: ReturnType<typeof tempDir>;
let broker: EmbeddedBroker;
let store: SqliteTwinStore;
let twin: DeviceTwin;
const memberships: Array<{ added: unknown; removed: unknown }> = [];

beforeEach(async () => {
  tmp = tempDir('edgetwin-origins-');
  const logger = silentLogger();
  broker = new EmbeddedBroker({ port: 0, logger });
  store = new SqliteTwinStore({ path: `${tmp.dir}/t.db`, synchronous: 'normal', logger });
  twin = new DeviceTwin({ bus: broker, store, nodeName: 'n', logger });
  await twin.start();
  await broker.start();
  memberships.length = 0;
  await broker.subscribe('$hw/events/node/n/membership/updated', (_t, payload) => {
    const m = JSON.parse(payload.toString()) as { added_devices: unknown; removed_devices: unknown };
    memberships.push({ added: m.added_devices, removed: m.removed_devices });
  });
});

afterEach(async () => {
  await twin.stop();
  await broker.close();
  await store.close();
  tmp.cleanup();
});

const modelOf = (id: string) => twin.list().find((e) => e.instance.id === id)?.model.name;

describe('devices from two origins', () => {
  it('the cluster copy wins, in either order, and hands back to the manifest', async () => {
    await twin.setDevices([inst('x', local), inst('only-local', local)], 'manifest');
    expect(modelOf('default/x')).toBe('local-model');
    await twin.setDevices([inst('x', cluster)], 'cluster');
    expect(modelOf('default/x')).toBe('cluster-model');
    // A manifest reload does not take it back.
    await twin.setDevices([inst('x', local), inst('only-local', local)], 'manifest');
    expect(modelOf('default/x')).toBe('cluster-model');
    // The cluster drops it: the manifest's copy again, and the device never left.
    await twin.setDevices([], 'cluster');
    expect(modelOf('default/x')).toBe('local-model');
    await twin.setDevices([inst('x', cluster)], 'cluster');
    // The manifest drops it while the cluster has it: still bound (from the cluster).
    await twin.setDevices([inst('only-local', local)], 'manifest');
    expect(modelOf('default/x')).toBe('cluster-model');
    await twin.setDevices([], 'cluster');
    expect(modelOf('default/x')).toBeUndefined();
    const removed = await waitFor(() => {
      const r = memberships.flatMap((m) => (Array.isArray(m.removed) ? (m.removed as unknown[]) : []));
      return r.length > 0 ? r : undefined;
    }, 'the removal published');
    expect(removed).toEqual([{ id: 'default/x', name: 'x' }]);
    const added = memberships.flatMap((m) => (Array.isArray(m.added) ? (m.added as unknown[]) : [])).map((d) => (d as { id: string }).id);
    expect(added.filter((id) => id === 'default/x')).toHaveLength(1);
  });
});
