// Interop with MQTT tools no one here wrote: Debian's mosquitto_pub and mosquitto_sub drive a
// running `edgetwin run` with KubeEdge-format messages, as an existing KubeEdge mapper would.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { mosquittoPub, mosquittoSubWhile as subscribeWhile } from './mosquitto.js';
import { requirePeer } from './peers.js';
import { edgeArgs, spawnEdge, type RunningEdge } from './process.js';

const DEV = '$hw/events/device/default/thermo';

function pub(port: number, topic: string, message: string): Promise<unknown> {
  return mosquittoPub(port, topic, message);
}

describe.skipIf(!requirePeer('built', 'mosquitto-clients'))('mosquitto_pub / mosquitto_sub against edgetwin run', () => {
  const tmp = tempDir();
  let edge: RunningEdge;

  beforeAll(async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    edge = await spawnEdge(edgeArgs(tmp.dir));
  });

  afterAll(async () => {
    await edge?.stop();
    tmp.cleanup();
  });

  it('a mapper-style update yields the result, document and delta', async () => {
    const update = JSON.stringify({
      event_id: 'mq1',
      timestamp: 1718000000000,
      twin: { setpoint: { expected: { value: '24' }, actual: { value: '20' }, metadata: { type: 'float' } } },
    });
    const got = await subscribeWhile(edge.port, [`${DEV}/twin/update/result`, `${DEV}/twin/update/document`, `${DEV}/twin/update/delta`], 3, () =>
      pub(edge.port, `${DEV}/twin/update`, update).then(() => undefined),
    );
    const by = Object.fromEntries(got.map((m) => [m.topic.slice(DEV.length + 1), m.json]));
    expect(by['twin/update/result']).toMatchObject({ event_id: 'mq1', twin: { setpoint: { expected: { value: '24' }, actual: { value: '20' }, metadata: { type: 'float' } } } });
    expect(by['twin/update/document']).toMatchObject({ twin: { setpoint: { last: null, current: { expected: { value: '24' } } } } });
    expect(by['twin/update/delta']).toMatchObject({ delta: { setpoint: '24' } });
  });

  it('twin/get answers with the stored twin', async () => {
    const got = await subscribeWhile(edge.port, [`${DEV}/twin/get/result`], 1, () => pub(edge.port, `${DEV}/twin/get`, '{"event_id":"g1","timestamp":0}').then(() => undefined));
    expect(got[0]?.json).toMatchObject({ event_id: 'g1', twin: { setpoint: { expected: { value: '24' }, actual: { value: '20' } } } });
  });

  it('bad JSON is answered on $hw/events/device//twin/update/result with a code', async () => {
    const got = await subscribeWhile(edge.port, ['$hw/events/device//twin/update/result'], 1, () => pub(edge.port, `${DEV}/twin/update`, '{oops').then(() => undefined));
    expect(got[0]?.json).toMatchObject({ code: 400, error_code: 'EDGETWIN_ERR_PAYLOAD_JSON' });
  });

  it('state/update and membership/get', async () => {
    const state = await subscribeWhile(edge.port, [`${DEV}/state/update/result`], 1, () => pub(edge.port, `${DEV}/state/update`, '{"event_id":"","timestamp":0,"state":"online"}').then(() => undefined));
    expect(state[0]?.json).toMatchObject({ device: { name: 'thermo', state: 'online' } });
    const members = await subscribeWhile(edge.port, ['$hw/events/node/edge-test/membership/get/result'], 1, () =>
      pub(edge.port, '$hw/events/node/edge-test/membership/get', '{"event_id":"m","timestamp":0}').then(() => undefined),
    );
    expect(members[0]?.json).toMatchObject({ event_id: 'm', devices: [{ id: 'default/thermo', name: 'thermo', state: 'online' }] });
  });
});
