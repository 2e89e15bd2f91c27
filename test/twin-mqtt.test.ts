// The twin's MQTT API end to end: a real EdgeCore (aedes on port 0, SQLite in a temp dir)
// and real mqtt.js clients speaking KubeEdge's payloads.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge, thermostatManifest, TestClient, type TestEdge } from './helpers.js';

const DEV = '$hw/events/device/default/thermo';
const UPDATE = `${DEV}/twin/update`;
const RESULT = `${DEV}/twin/update/result`;
const ANON = '$hw/events/device//twin/update/result';

let edge: TestEdge;
let app: TestClient;
let seq = 0;
const nextId = (): string => `e${++seq}`;

beforeAll(async () => {
  edge = await startEdge({ 'thermo.yaml': thermostatManifest() }, { mqtt: { port: 0, maxPayloadBytes: 4096, maxPacketBytes: 1024 * 1024 } });
  app = await TestClient.connect(edge.url);
});

afterAll(async () => {
  await app?.close();
  await edge?.stop();
});

async function update(twin: unknown, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const id = nextId();
  const from = app.count;
  await app.publish(UPDATE, { event_id: id, timestamp: Date.now(), twin, ...extra });
  return (await app.next(RESULT, (j) => j.event_id === id, 5000, from)).json;
}

async function getTwin(): Promise<Record<string, unknown>> {
  const id = nextId();
  const from = app.count;
  await app.publish(`${DEV}/twin/get`, { event_id: id, timestamp: Date.now() });
  return (await app.next(`${DEV}/twin/get/result`, (j) => j.event_id === id, 5000, from)).json;
}

describe('twin/update over MQTT (KubeEdge payloads)', () => {
  it('answers an update with the result, then a document and a delta', async () => {
    const from = app.count;
    const result = await update({ setpoint: { expected: { value: '21' }, metadata: { type: 'float' } }, temperature: { actual: { value: '19.5' } } });
    expect(result.code).toBeUndefined();
    const twin = result.twin as Record<string, Record<string, unknown>>;
    expect(twin.setpoint).toMatchObject({ expected: { value: '21' }, optional: true, metadata: { type: 'float' } });
    expect(twin.temperature).toMatchObject({ actual: { value: '19.5' } });
    expect(twin.setpoint!.expected_version).toBeUndefined(); // versions stripped, as in KubeEdge
    const doc = await app.next(`${DEV}/twin/update/document`, () => true, 5000, from);
    expect(doc.json.twin).toMatchObject({ setpoint: { last: null, current: { expected: { value: '21' } } } });
    const delta = await app.next(`${DEV}/twin/update/delta`, () => true, 5000, from);
    expect(delta.json.delta).toEqual({ setpoint: '21' });
  });

  it('get returns every twin with the version', async () => {
    const got = await getTwin();
    expect(Object.keys(got.twin as object).sort()).toEqual(['setpoint', 'temperature']);
    expect(typeof got.version).toBe('number');
  });

  it('an update that changes nothing is answered without a document', async () => {
    const before = app.on(`${DEV}/twin/update/document`).length;
    const result = await update({ setpoint: { expected: { value: '21.0' } } });
    expect(result.code).toBeUndefined();
    await getTwin(); // any later answer proves no document was queued before it
    expect(app.on(`${DEV}/twin/update/document`).length).toBe(before);
  });

  it('a mapper report that reaches the desired value clears the delta', async () => {
    const result = await update({ setpoint: { actual: { value: '21' }, ack: { state: 'applied', value: '21' } } });
    expect(result.twin).toMatchObject({ setpoint: { actual: { value: '21' }, ack: { state: 'applied' } } });
  });

  it('a matching version is accepted; a stale one is refused with 409 and the current version', async () => {
    const { version } = await getTwin();
    const ok = await update({ mode: { expected: { value: 'heat' } } }, { version });
    expect(ok.code).toBeUndefined();
    const stale = await update({ mode: { expected: { value: 'cool' } } }, { version });
    expect(stale).toMatchObject({ code: 409, error_code: 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT', version: (version as number) + 1 });
  });

  it('deletes an optional twin (soft delete) and answers null', async () => {
    await update({ power: { actual: { value: 'true' } } });
    const result = await update({ power: null });
    expect(result.twin).toEqual({ power: null });
    expect((await getTwin()).twin).not.toHaveProperty('power');
  });

  it('accepts KubeEdge struct keys in any case, as Go does', async () => {
    const id = nextId();
    const from = app.count;
    await app.publish(UPDATE, `{"Event_ID":"${id}","Twin":{"temperature":{"Actual":{"Value":"20"}}}}`);
    const r = await app.next(RESULT, (j) => j.event_id === id, 5000, from);
    expect(r.json.twin).toMatchObject({ temperature: { actual: { value: '20' } } });
  });
});

describe('state/update and membership', () => {
  it('stores the device state and answers with KubeEdge\'s DeviceMsg', async () => {
    const from = app.count;
    await app.publish(`${DEV}/state/update`, { event_id: 's1', timestamp: 0, state: 'Online' });
    const r = await app.next(`${DEV}/state/update/result`, (j) => (j.device as { state?: string } | undefined)?.state === 'Online', 5000, from);
    // KubeEdge (dealDeviceStateUpdate): the state as sent, under a fresh uuid event id.
    expect(r.json.device).toMatchObject({ name: 'thermo', state: 'Online' });
    expect(r.json.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((r.json.device as { lastOnlineTime: string }).lastOnlineTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('lists the node\'s devices on membership/get', async () => {
    const from = app.count;
    await app.publish('$hw/events/node/edge-test/membership/get', { event_id: 'm1', timestamp: 0 });
    const r = await app.next('$hw/events/node/edge-test/membership/get/result', (j) => j.event_id === 'm1', 5000, from);
    expect(r.json.devices).toEqual([expect.objectContaining({ id: 'default/thermo', name: 'thermo', state: 'online' })]);
  });

  it("adds each device's protocol and model when membership/get asks with edgetwin's include", async () => {
    const from = app.count;
    await app.publish('$hw/events/node/edge-test/membership/get', { event_id: 'm2', timestamp: 0, include: ['protocol', 'model', 'nonsense'] });
    const r = await app.next('$hw/events/node/edge-test/membership/get/result', (j) => j.event_id === 'm2', 5000, from);
    expect(r.json.devices).toEqual([expect.objectContaining({ id: 'default/thermo', protocol: 'external', model: 'thermostat' })]);
    // Without it the answer is KubeEdge's dttype.Device: no extra key (also test/kubeedge-replay.test.ts).
    await app.publish('$hw/events/node/edge-test/membership/get', { event_id: 'm3', timestamp: 0, include: 'protocol' });
    const plain = await app.next('$hw/events/node/edge-test/membership/get/result', (j) => j.event_id === 'm3', 5000, from);
    expect(Object.keys((plain.json.devices as object[])[0]!).sort()).toEqual(['id', 'last_online', 'name', 'state']);
  });

  it("adds the model's units when twin/get asks with include", async () => {
    const from = app.count;
    await app.publish(`${DEV}/twin/get`, { event_id: 'u1', timestamp: 0, include: ['units'] });
    const r = await app.next(`${DEV}/twin/get/result`, (j) => j.event_id === 'u1', 5000, from);
    expect(r.json.units).toEqual({ temperature: 'Celsius', setpoint: 'Celsius' });
    expect((await getTwin()).units).toBeUndefined();
  });
});

// Each malformed or invalid input gets its coded error on the right topic and changes nothing.
const deep = `{"event_id":"DEEP","twin":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`;
const invalid: Array<[string, string | Buffer, string, number, 'device' | 'anon']> = [
  ['bad JSON', '{"event_id":"X","twin":', 'EDGETWIN_ERR_PAYLOAD_JSON', 400, 'anon'],
  ['empty payload', '', 'EDGETWIN_ERR_PAYLOAD_JSON', 400, 'anon'],
  ['non-UTF-8 bytes', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'EDGETWIN_ERR_PAYLOAD_ENCODING', 400, 'anon'],
  ['deep nesting', deep, 'EDGETWIN_ERR_PAYLOAD_TOO_DEEP', 400, 'anon'],
  ['huge payload', JSON.stringify({ event_id: 'X', twin: { setpoint: { expected: { value: '1'.repeat(8000) } } } }), 'EDGETWIN_ERR_PAYLOAD_TOO_LARGE', 400, 'anon'],
  ['a JSON array', '[1,2,3]', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['a JSON string', '"twin"', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['no twin key', '{"event_id":"X"}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['twin not an object', '{"event_id":"X","twin":5}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['a twin that is a number', '{"event_id":"X","twin":{"setpoint":5}}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['expected as a bare string', '{"event_id":"X","twin":{"setpoint":{"expected":"21"}}}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['a value that is a JSON number', '{"event_id":"X","twin":{"setpoint":{"expected":{"value":21}}}}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['optional not a boolean', '{"event_id":"X","twin":{"setpoint":{"optional":"no"}}}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['metadata not an object', '{"event_id":"X","twin":{"setpoint":{"metadata":"float"}}}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'anon'],
  ['a negative version', '{"event_id":"X","version":-1,"twin":{}}', 'EDGETWIN_ERR_PAYLOAD_SHAPE', 400, 'device'],
  ['a malformed ack', '{"event_id":"X","twin":{"setpoint":{"ack":{"state":"done"}}}}', 'EDGETWIN_ERR_ACK_INVALID', 400, 'device'],
  ['a key KubeEdge forbids', '{"event_id":"X","twin":{"set point":{"actual":{"value":"1"}}}}', 'EDGETWIN_ERR_PROPERTY_NAME', 400, 'anon'],
  ['an unknown property', '{"event_id":"X","twin":{"humidity":{"actual":{"value":"40"}}}}', 'EDGETWIN_ERR_PROPERTY_UNKNOWN', 400, 'device'],
  ['a word for a number', '{"event_id":"X","twin":{"setpoint":{"expected":{"value":"warm"}}}}', 'EDGETWIN_ERR_VALUE_TYPE', 400, 'device'],
  ['Infinity for a number', '{"event_id":"X","twin":{"setpoint":{"expected":{"value":"Infinity"}}}}', 'EDGETWIN_ERR_VALUE_TYPE', 400, 'device'],
  ['an out-of-range desired value', '{"event_id":"X","twin":{"setpoint":{"expected":{"value":"99"}}}}', 'EDGETWIN_ERR_MODEL_VALIDATION', 400, 'device'],
  ['a reading below the minimum', '{"event_id":"X","twin":{"temperature":{"actual":{"value":"-41"}}}}', 'EDGETWIN_ERR_MODEL_VALIDATION', 400, 'device'],
  ['a value outside the enum', '{"event_id":"X","twin":{"mode":{"expected":{"value":"auto"}}}}', 'EDGETWIN_ERR_MODEL_VALIDATION', 400, 'device'],
  ['yes for a boolean', '{"event_id":"X","twin":{"power":{"expected":{"value":"yes"}}}}', 'EDGETWIN_ERR_VALUE_TYPE', 400, 'device'],
  ['a desired value for a readOnly property', '{"event_id":"X","twin":{"temperature":{"expected":{"value":"20"}}}}', 'EDGETWIN_ERR_PROPERTY_READ_ONLY', 400, 'device'],
  ['a contradicting metadata.type', '{"event_id":"X","twin":{"setpoint":{"actual":{"value":"20"},"metadata":{"type":"boolean"}}}}', 'EDGETWIN_ERR_TYPE_MISMATCH', 400, 'device'],
  ['one bad key among good ones', '{"event_id":"X","twin":{"setpoint":{"expected":{"value":"30"}},"mode":{"expected":{"value":"auto"}}}}', 'EDGETWIN_ERR_MODEL_VALIDATION', 400, 'device'],
];

describe('malformed and invalid updates are refused with a code and change nothing', () => {
  it.each(invalid)('%s', async (_label, payload, code, status, where) => {
    const before = await getTwin();
    const docs = app.on(`${DEV}/twin/update/document`).length;
    const from = app.count;
    await app.publish(UPDATE, payload);
    const topic = where === 'anon' ? ANON : RESULT;
    const r = await app.next(topic, (j) => j.error_code === code, 5000, from);
    expect(r.json).toMatchObject({ code: status, error_code: code });
    // KubeEdge answers what it cannot decode with an empty event id (dttype.Parameter{}).
    expect(r.json.event_id).toBe(where === 'anon' ? '' : 'X');
    expect(typeof r.json.reason).toBe('string');
    expect(typeof r.json.timestamp).toBe('number');
    const after = await getTwin();
    expect(after.twin).toEqual(before.twin);
    expect(after.version).toBe(before.version);
    expect(app.on(`${DEV}/twin/update/document`).length).toBe(docs);
  });

  it('an unknown device is answered 404 on its own result topic', async () => {
    const from = app.count;
    await app.publish('$hw/events/device/default/nope/twin/update', { event_id: 'n1', twin: { setpoint: { expected: { value: '20' } } } });
    const r = await app.next('$hw/events/device/default/nope/twin/update/result', () => true, 5000, from);
    expect(r.json).toMatchObject({ event_id: 'n1', code: 404, error_code: 'EDGETWIN_ERR_DEVICE_NOT_FOUND' });
  });

  it("state/update of an unknown device is answered 404 on its own result topic (KubeEdge drops it: docs/mqtt-api.md's differences)", async () => {
    const from = app.count;
    await app.publish('$hw/events/device/default/nope/state/update', { event_id: 's404', timestamp: 0, state: 'online' });
    const r = await app.next('$hw/events/device/default/nope/state/update/result', () => true, 5000, from);
    expect(r.json).toMatchObject({ event_id: 's404', code: 404, error_code: 'EDGETWIN_ERR_DEVICE_NOT_FOUND' });
  });

  it('twin/get of an unknown device is answered 404', async () => {
    const from = app.count;
    await app.publish('$hw/events/device/default/nope/twin/get', { event_id: 'g404' });
    const r = await app.next('$hw/events/device/default/nope/twin/get/result', () => true, 5000, from);
    expect(r.json).toMatchObject({ event_id: 'g404', code: 404, error_code: 'EDGETWIN_ERR_DEVICE_NOT_FOUND' });
  });

  it.each([
    ['an unknown state', '{"event_id":"s","state":"sleepy"}', 'EDGETWIN_ERR_STATE_INVALID'],
    ['a state that is not a string', '{"event_id":"s","state":1}', 'EDGETWIN_ERR_PAYLOAD_SHAPE'],
    ['bad JSON', '{"state":', 'EDGETWIN_ERR_PAYLOAD_JSON'],
  ])('state/update with %s is refused', async (_label, payload, code) => {
    const from = app.count;
    await app.publish(`${DEV}/state/update`, payload);
    const r = await app.next(`${DEV}/state/update/result`, (j) => j.error_code === code, 5000, from);
    expect(r.json.code).toBe(400);
  });
});

describe('the QoS of answers (mqtt.answerQos)', () => {
  // A QoS 1 subscriber receives at min(subscription, publish) QoS [MQTT-3.8.4-6]: what it
  // gets is the QoS the twin published at.
  async function answerQos(e: TestEdge): Promise<number[]> {
    const { default: mqtt } = await import('mqtt');
    const client = await mqtt.connectAsync(e.url, { reconnectPeriod: 0 });
    try {
      const got: number[] = [];
      const three = new Promise<void>((resolve) =>
        client.on('message', (_t, _p, packet) => {
          got.push(packet.qos);
          if (got.length === 3) resolve();
        }),
      );
      await client.subscribeAsync(`${DEV}/twin/update/+`, { qos: 1 });
      await client.publishAsync(UPDATE, JSON.stringify({ event_id: 'q', timestamp: 0, twin: { setpoint: { expected: { value: '30' } } } }), { qos: 1 });
      await three; // result, document, delta
      return got;
    } finally {
      await client.endAsync();
    }
  }

  it('is 0 by default (KubeEdge\'s internal broker, mqttQOS 0)', async () => {
    expect(await answerQos(edge)).toEqual([0, 0, 0]);
  });

  it('is 1 with mqtt.answerQos: 1 (KubeEdge\'s default external broker mode)', async () => {
    const other = await startEdge({ 'thermo.yaml': thermostatManifest() }, { mqtt: { port: 0, answerQos: 1 } });
    try {
      expect(await answerQos(other)).toEqual([1, 1, 1]);
    } finally {
      await other.stop();
    }
  });
});

describe('membership/updated (KubeEdge MembershipUpdate)', () => {
  it('carries a fresh uuid event id, and removed devices keep their description', async () => {
    const described = thermostatManifest('lamp', 'default').replace('  name: lamp\n', '  name: lamp\n  labels:\n    description: Hall lamp\n');
    const other = await startEdge({ 'lamp.yaml': described });
    const watcher = await TestClient.connect(other.url);
    try {
      const entry = other.core.twin.list().find((e) => e.instance.id === 'default/lamp')!;
      const from = watcher.count;
      await other.core.twin.setDevices([]);
      const removed = await watcher.next('$hw/events/node/edge-test/membership/updated', () => true, 5000, from);
      expect(removed.json).toEqual({
        event_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        timestamp: expect.any(Number),
        added_devices: null,
        removed_devices: [{ id: 'default/lamp', name: 'lamp', description: 'Hall lamp' }],
      });
      await other.core.twin.setDevices([{ instance: entry.instance, model: entry.model }]);
      const added = await watcher.next('$hw/events/node/edge-test/membership/updated', (j) => j.added_devices !== null, 5000, from);
      expect(added.json).toMatchObject({ added_devices: [{ id: 'default/lamp', name: 'lamp', description: 'Hall lamp' }], removed_devices: null });
      expect(added.json.event_id).not.toBe(removed.json.event_id);
    } finally {
      await watcher.close();
      await other.stop();
    }
  });
});

describe('TwinClient and keys KubeEdge answers anonymously', () => {
  it('refuses a key outside the regex itself (its answer could not echo the request id)', async () => {
    const { TwinClient } = await import('../devicetwin/index.js');
    const client = new TwinClient(edge.core.bus, { timeoutMs: 2000 });
    await expect(client.setDesired('default/thermo', { 'set point': '21' })).rejects.toMatchObject({ code: 'EDGETWIN_ERR_PROPERTY_NAME' });
  });
});
