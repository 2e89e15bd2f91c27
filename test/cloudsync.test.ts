// Cloud sync end to end: a real `EdgeCore` configured with a kubeconfig (as `edgetwin run
// --kubeconfig` is), the real @kubernetes/client-node, the in-process API server, and an MQTT
// client acting as the mapper (a KubeEdge MQTT mapper: deltas in, twin/update out).

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { resolveConfig } from '../schemas/index.js';
import { TestClient, tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { FakeApiServer } from './k8s/index.js';
import { clusterStatus, device, deviceModel, twinOf, waitFor } from './k8s/fixtures.js';

let server: FakeApiServer;
let tmp: ReturnType<typeof tempDir>;
let core: EdgeCore | undefined;
let mapper: TestClient | undefined;

function kubeconfigFile(dir: string, url: string): string {
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "${url}", insecure-skip-tls-verify: true}
users:
- name: edge
  user: {token: edge-token}
contexts:
- name: edge
  context: {cluster: test, user: edge}
current-context: edge
`,
  );
  return file;
}

async function startEdge(extra: Record<string, unknown> = {}): Promise<EdgeCore> {
  const devicesDir = path.join(tmp.dir, 'devices');
  const c = new EdgeCore({
    config: resolveConfig({
      nodeName: 'edge-1',
      dataDir: path.join(tmp.dir, 'data'),
      devices: [devicesDir],
      mqtt: { port: 0 },
      log: { level: 'silent' },
      cloud: { kubeconfig: kubeconfigFile(tmp.dir, server.url), reportCycle: 50 },
      ...extra,
    }),
    logger: silentLogger(),
  });
  await c.start();
  core = c;
  return c;
}

/** Answers every delta as a mapper does: writes the value and reports it back as actual. */
function actAsMapper(client: TestClient): void {
  client.client.on('message', (topic, payload) => {
    const m = /^\$hw\/events\/device\/([^/]+)\/([^/]+)\/twin\/update\/delta$/.exec(topic);
    if (!m) return;
    const { delta } = JSON.parse(payload.toString()) as { delta: Record<string, string> };
    const twin = Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, { actual: { value: v } }]));
    void client.publish(`$hw/events/device/${m[1]}/${m[2]}/twin/update`, { event_id: '', timestamp: Date.now(), twin });
  });
}

beforeEach(async () => {
  server = await FakeApiServer.start();
  tmp = tempDir('edgetwin-cloudsync-');
  writeManifests(path.join(tmp.dir, 'devices'), {});
});

afterEach(async () => {
  await mapper?.close();
  mapper = undefined;
  await core?.stop();
  core = undefined;
  await server.stop();
  tmp.cleanup();
});

describe('cloud sync with edgetwin run', () => {
  it('desired set in the cluster reaches the mapper and comes back as observedDesired + reported', async () => {
    server.apply('devicemodels', deviceModel('thermo'));
    const edge = await startEdge();
    mapper = await TestClient.connect(edge.brokerUrl, ['$hw/#']);
    actAsMapper(mapper);

    server.apply('devices', device('t1', { desired: { setpoint: '21' } }));
    const joined = await mapper.next('$hw/events/node/edge-1/membership/updated');
    expect(joined.json.added_devices).toEqual([{ id: 'default/t1', name: 't1' }]);
    const delta = await mapper.next('$hw/events/device/default/t1/twin/update/delta');
    expect(delta.json.delta).toEqual({ setpoint: '21' });
    await mapper.publish('$hw/events/device/default/t1/twin/update', { event_id: '', timestamp: Date.now(), twin: { temperature: { actual: { value: '19.5' } } } });

    const status = await waitFor(() => {
      const s = clusterStatus(server, 't1');
      return twinOf(s, 'setpoint')?.reported?.value === '21' && twinOf(s, 'temperature') ? s : undefined;
    }, 'the status in the cluster');
    const setpoint = twinOf(status, 'setpoint')!;
    expect(setpoint.observedDesired).toMatchObject({ value: '21', metadata: { type: 'float' } });
    expect(setpoint.reported).toMatchObject({ value: '21', metadata: { type: 'float' } });
    expect(Number(setpoint.reported!.metadata!.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(twinOf(status, 'temperature')).toMatchObject({ reported: { value: '19.5', metadata: { type: 'float' } } });
    expect(twinOf(status, 'temperature')!.observedDesired).toBeUndefined();
    expect(status).toHaveProperty('state', 'unknown');
    // KubeEdge ≥ 1.23: a DeviceStatus of the same name, owned by the Device.
    const ds = server.store.get('devicestatuses', 'default', 't1');
    const dev = server.store.get('devices', 'default', 't1');
    expect(ds.metadata.ownerReferences).toEqual([{ apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', name: 't1', uid: dev.metadata.uid, controller: true, blockOwnerDeletion: true }]);

    // A new desired value in the cluster: delta, mapper, status.
    server.apply('devices', device('t1', { desired: { setpoint: '23.5' } }));
    await mapper.next('$hw/events/device/default/t1/twin/update/delta', (j) => (j.delta as Record<string, string>).setpoint === '23.5');
    await waitFor(() => twinOf(clusterStatus(server, 't1'), 'setpoint')?.reported?.value === '23.5', 'reported 23.5');
    expect(twinOf(clusterStatus(server, 't1'), 'setpoint')?.observedDesired?.value).toBe('23.5');

    // State goes up too, with lastOnlineTime.
    await mapper.publish('$hw/events/device/default/t1/state/update', { event_id: '', timestamp: Date.now(), state: 'online' });
    const online = await waitFor(() => (clusterStatus(server, 't1')?.state === 'online' ? clusterStatus(server, 't1') : undefined), 'state online');
    expect(online.lastOnlineTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(edge.cloudSync!.health()).toMatchObject({ state: 'synced', devices: 1, problems: [] });
  });

  it('a deleted or re-assigned Device leaves the twin set; a device of another node never joins', async () => {
    server.apply('devicemodels', deviceModel('thermo'));
    server.apply('devices', device('mine'));
    server.apply('devices', device('other', { node: 'edge-2' }));
    const edge = await startEdge();
    mapper = await TestClient.connect(edge.brokerUrl, ['$hw/#']);
    await waitFor(() => edge.twin.get('default/mine'), 'device bound');
    expect(edge.twin.get('default/other')).toBeUndefined();

    const from = mapper.count;
    server.apply('devices', device('mine', { node: 'edge-2' }));
    const left = await mapper.next('$hw/events/node/edge-1/membership/updated', (j) => Array.isArray(j.removed_devices), 5000, from);
    expect(left.json.removed_devices).toEqual([{ id: 'default/mine', name: 'mine' }]);
    expect(edge.twin.get('default/mine')).toBeUndefined();

    server.apply('devices', device('other', { node: 'edge-1' }));
    await waitFor(() => edge.twin.get('default/other'), 're-assigned here');
    server.store.delete('devices', 'default', 'other');
    await waitFor(() => edge.twin.get('default/other') === undefined, 'deleted device gone');
  });

  it('manifest and cluster devices coexist; the cluster copy wins for the same <ns>/<name> and hands back on delete', async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'a.yaml': thermostatManifest('shared').replace('edge-test', 'edge-1'), 'b.yaml': thermostatManifest('local').replace('edge-test', 'edge-1') });
    server.apply('devicemodels', deviceModel('thermo'));
    server.apply('devices', device('shared'));
    const edge = await startEdge();
    await waitFor(() => edge.twin.list().find((e) => e.instance.id === 'default/shared' && e.model.name === 'thermo'), 'cluster copy bound');
    expect(edge.twin.list().map((e) => e.instance.id).sort()).toEqual(['default/local', 'default/shared']);

    server.store.delete('devices', 'default', 'shared');
    // Still bound, now from the manifest (model thermostat), never removed in between.
    await waitFor(() => edge.twin.list().find((e) => e.instance.id === 'default/shared' && e.model.name === 'thermostat'), 'manifest copy back');
  });

  it('desired: the edge\'s change goes to the Device spec; when both changed, the cloud wins', async () => {
    server.apply('devicemodels', deviceModel('thermo'));
    server.apply('devices', device('t1', { desired: { setpoint: '20' } }));
    const edge = await startEdge();
    mapper = await TestClient.connect(edge.brokerUrl, ['$hw/#']);
    await waitFor(() => edge.twin.get('default/t1')?.twins.setpoint?.expected?.value === '20', 'desired 20 at the edge');

    // An app sets desired at the edge over MQTT: it lands in spec.properties[].desired (KubeEdge #4166),
    // through a 409 (re-read, decide again, retry).
    server.fail((r) => r.verb === 'patch' && r.plural === 'devices', 409, 1);
    await mapper.publish('$hw/events/device/default/t1/twin/update', { event_id: 'app', timestamp: Date.now(), twin: { setpoint: { expected: { value: '22' } } } });
    const spec = () => (server.store.get('devices', 'default', 't1').spec as { properties: Array<{ name: string; desired?: { value: string } }> }).properties;
    await waitFor(() => spec().find((p) => p.name === 'setpoint')?.desired?.value === '22', 'edge desired in the spec');
    expect(spec().find((p) => p.name === 'power')?.desired).toBeUndefined();
    const calls = server.requests.filter((r) => r.plural === 'devices' && (r.verb === 'patch' || r.verb === 'get')).map((r) => `${r.verb} ${r.status}`);
    expect(calls.slice(0, 3)).toEqual(['patch 409', 'get 200', 'patch 200']);

    // Both change before either side hears of the other: the edge to 24 (its push to the spec
    // keeps failing) while the cluster goes to 30. The cloud wins, at the edge and in the spec.
    server.fail((r) => r.verb === 'patch' && r.plural === 'devices', 503, 1000);
    await mapper.publish('$hw/events/device/default/t1/twin/update', { event_id: 'app', timestamp: Date.now(), twin: { setpoint: { expected: { value: '24' } } } });
    await waitFor(() => server.requests.some((r) => r.verb === 'patch' && r.plural === 'devices' && r.status === 503), 'the edge push failing');
    server.apply('devices', device('t1', { desired: { setpoint: '30' } }));
    await waitFor(() => edge.twin.get('default/t1')?.twins.setpoint?.expected?.value === '30', 'the cloud value at the edge');
    server.faults.length = 0;
    await waitFor(() => twinOf(clusterStatus(server, 't1'), 'setpoint')?.observedDesired?.value === '30', 'observedDesired 30');
    expect(spec().find((p) => p.name === 'setpoint')?.desired?.value).toBe('30');
  });

  it('a desired value the model rejects is reported and does not unbind the device', async () => {
    server.apply('devicemodels', deviceModel('thermo'));
    server.apply('devices', device('t1', { desired: { setpoint: '99', power: 'true' } }));
    const edge = await startEdge();
    await waitFor(() => edge.twin.get('default/t1')?.twins.power?.expected?.value === 'true', 'the valid desired value applied');
    expect(edge.twin.get('default/t1')?.twins.setpoint?.expected).toBeUndefined();
    const problems = await waitFor(() => (edge.cloudSync!.health().problems.length > 0 ? edge.cloudSync!.health().problems : undefined), 'a problem');
    expect(problems[0]).toMatchObject({ key: 'desired:default/t1/setpoint', code: 'EDGETWIN_ERR_MODEL_VALIDATION' });
  });
  // The same path with the real Modbus mapper and a simulated Modbus device: cloudsync-modbus.test.ts.
});
