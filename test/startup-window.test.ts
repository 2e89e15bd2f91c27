// The window between "the broker listens" and "the devices are bound" at start-up. A broker
// PUBACKs a QoS 1 message no handler owns, so a twin that took its topics only after binding
// would acknowledge an update sent in that window and apply nothing. EdgeCore therefore has the
// twin take its topics first, holding what arrives until binding is done (DeviceTwin.listen's
// `until`): the update waits, unacknowledged, and is then applied and answered.

import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceTwin, SqliteTwinStore } from '../devicetwin/index.js';
import { EmbeddedBroker } from '../eventbus/index.js';
import { loadDevices, loadModels, BUNDLED_MODELS_DIR } from '../schemas/index.js';
import { eventually } from './async.js';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';

describe('an update sent while the node is still binding its devices', () => {
  const tmp = tempDir('edgetwin-window-');
  const logger = pino({ level: 'silent' });
  const store = new SqliteTwinStore({ path: path.join(tmp.dir, 'edgetwin.db') });
  const broker = new EmbeddedBroker({ port: 0, logger });
  const twin = new DeviceTwin({ bus: broker, store, nodeName: 'edge-test', logger });
  afterAll(async () => {
    await twin.stop();
    await broker.close();
    await store.close();
    tmp.cleanup();
  });

  it('waits unacknowledged until the device is bound, then is applied and answered', async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const { models } = loadModels([BUNDLED_MODELS_DIR]);
    const { devices } = loadDevices([path.join(tmp.dir, 'devices')], models);
    await twin.start();
    let bound!: () => void;
    twin.listen({ until: new Promise<void>((resolve) => (bound = resolve)) });
    await broker.start();

    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const results: string[] = [];
      await client.subscribeAsync('$hw/events/device/default/thermo/twin/update/result');
      client.on('message', (_t, payload) => results.push(payload.toString()));
      let acked = false;
      const sent = client
        .publishAsync('$hw/events/device/default/thermo/twin/update', JSON.stringify({ event_id: 'early', timestamp: 0, twin: { setpoint: { expected: { value: '21' } } } }), { qos: 1 })
        .then(() => (acked = true));
      // The broker has the message (it is past the network), and it is not acknowledged: its
      // handler waits for the devices.
      await eventually(async () => (broker.stats().messagesIn >= 1 ? true : undefined), 10_000);
      expect(acked).toBe(false);

      await twin.setDevices(devices.map((instance) => ({ instance, model: models.get(instance.model)! })));
      bound();
      await sent;
      await eventually(async () => (results.some((r) => r.includes('"early"')) ? true : undefined), 10_000);
      const answer = JSON.parse(results.find((r) => r.includes('"early"'))!) as { code?: number; twin?: Record<string, unknown> };
      expect(answer.code).toBeUndefined();
      expect(twin.get('default/thermo')?.twins.setpoint?.expected?.value).toBe('21');
    } finally {
      await client.endAsync();
    }
  });
});
