// `edgetwin run --mqtt-mode external` beside Debian's mosquitto, as on a KubeEdge node
// (eventBus.mqttMode 2): mosquitto_pub / mosquitto_sub conversations through mosquitto, answers
// at the configured QoS, a start while mosquitto is down (waits, retries with backoff, /readyz
// says why), and `both` mode (embedded broker for local clients, bridged to mosquitto).

import { requirePeer } from './peers.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, within } from './async.js';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { freePort, mosquittoPub, mosquittoSubWhile, startMosquitto, type Mosquitto } from './mosquitto.js';
import { BUILT, edgeArgs, launchEdge, spawnEdge, type LaunchedEdge, type RunningEdge } from './process.js';

const DEV = '$hw/events/device/default/thermo';
const SKIP = !BUILT || !requirePeer('mosquitto', 'mosquitto-clients');

/** A config file for what has no flag: answer QoS and a quick reconnect backoff. */
function writeConfig(dir: string, mqttSection: Record<string, unknown>): string {
  const file = path.join(dir, 'edgetwin.json');
  writeFileSync(file, JSON.stringify({ mqtt: mqttSection }));
  return file;
}

function externalArgs(dir: string, url: string, config: string): string[] {
  return [...edgeArgs(dir), '--config', config, '--mqtt-mode', 'external', '--mqtt-url', url];
}

/** The metrics URL the process logged (metrics on port 0, log level info). */
async function metricsUrl(edge: LaunchedEdge): Promise<string> {
  return eventually(async () => /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"metrics and health listening"/.exec(edge.output().stderr)?.[1]);
}

async function readyz(base: string): Promise<{ status: number; body: { status: string; checks: Record<string, { ok: boolean; detail: string }> } }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, { ok: boolean; detail: string }> } };
}

describe.skipIf(SKIP)('external mode: mosquitto_pub / mosquitto_sub through mosquitto', () => {
  const tmp = tempDir('edgetwin-ext-');
  let mosquitto: Mosquitto;
  let edge: RunningEdge;

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const config = writeConfig(tmp.dir, { answerQos: 1 });
    edge = await spawnEdge(externalArgs(tmp.dir, mosquitto.url, config));
  });

  afterAll(async () => {
    await edge?.stop();
    await mosquitto?.close();
    tmp.cleanup();
  });

  it('runs no broker of its own and names the external one in the ready line', () => {
    expect(edge.readyLine).toContain(`broker ${mosquitto.url} (external)`);
    expect(edge.readyLine).toContain("auth: the external broker's");
    expect(edge.port).toBe(mosquitto.port);
  });

  it('update → result, document and delta', async () => {
    const update = JSON.stringify({ event_id: 'x1', timestamp: 1718000000000, twin: { setpoint: { expected: { value: '24' }, actual: { value: '20' }, metadata: { type: 'float' } } } });
    const got = await mosquittoSubWhile(mosquitto.port, [`${DEV}/twin/update/result`, `${DEV}/twin/update/document`, `${DEV}/twin/update/delta`], 3, () =>
      mosquittoPub(mosquitto.port, `${DEV}/twin/update`, update).then(() => undefined),
    );
    const by = Object.fromEntries(got.map((m) => [m.topic.slice(DEV.length + 1), m.json]));
    expect(by['twin/update/result']).toMatchObject({ event_id: 'x1', twin: { setpoint: { expected: { value: '24' }, actual: { value: '20' } } } });
    expect(by['twin/update/document']).toMatchObject({ twin: { setpoint: { last: null, current: { expected: { value: '24' } } } } });
    expect(by['twin/update/delta']).toMatchObject({ delta: { setpoint: '24' } });
  });

  it('get → get/result, state/update → result, membership/get → result, bad JSON → the anonymous result topic', async () => {
    const get = await mosquittoSubWhile(mosquitto.port, [`${DEV}/twin/get/result`], 1, () => mosquittoPub(mosquitto.port, `${DEV}/twin/get`, '{"event_id":"g1","timestamp":0}').then(() => undefined));
    expect(get[0]?.json).toMatchObject({ event_id: 'g1', twin: { setpoint: { expected: { value: '24' }, actual: { value: '20' } } } });
    const state = await mosquittoSubWhile(mosquitto.port, [`${DEV}/state/update/result`], 1, () =>
      mosquittoPub(mosquitto.port, `${DEV}/state/update`, '{"event_id":"","timestamp":0,"state":"online"}').then(() => undefined),
    );
    expect(state[0]?.json).toMatchObject({ device: { name: 'thermo', state: 'online' } });
    const members = await mosquittoSubWhile(mosquitto.port, ['$hw/events/node/edge-test/membership/get/result'], 1, () =>
      mosquittoPub(mosquitto.port, '$hw/events/node/edge-test/membership/get', '{"event_id":"m","timestamp":0}').then(() => undefined),
    );
    expect(members[0]?.json).toMatchObject({ event_id: 'm', devices: [{ id: 'default/thermo', state: 'online' }] });
    const bad = await mosquittoSubWhile(mosquitto.port, ['$hw/events/device//twin/update/result'], 1, () => mosquittoPub(mosquitto.port, `${DEV}/twin/update`, '{oops').then(() => undefined));
    expect(bad[0]?.json).toMatchObject({ code: 400, error_code: 'EDGETWIN_ERR_PAYLOAD_JSON' });
  });

  it('publishes its answers at mqtt.answerQos (1 here): a QoS 1 subscriber gets them at QoS 1', async () => {
    const app = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0 });
    try {
      await app.subscribeAsync(`${DEV}/twin/get/result`, { qos: 1 });
      const got = new Promise<number>((resolve) => app.on('message', (_t, _p, packet) => resolve(packet.qos)));
      await app.publishAsync(`${DEV}/twin/get`, '{"event_id":"q","timestamp":0}', { qos: 1 });
      expect(await within(got, 5000, 'get/result')).toBe(1);
    } finally {
      await app.endAsync();
    }
  });

  it('updates published while edgetwin is stopped are applied when it returns (persistent session)', async () => {
    await edge.stop();
    for (let i = 1; i <= 3; i++) {
      await mosquittoPub(mosquitto.port, `${DEV}/twin/update`, JSON.stringify({ event_id: `off${i}`, timestamp: 0, twin: { setpoint: { expected: { value: String(10 + i) } } } }));
    }
    edge = await spawnEdge(externalArgs(tmp.dir, mosquitto.url, writeConfig(tmp.dir, { answerQos: 1 })));
    const value = await eventually(async () => {
      const got = await mosquittoSubWhile(mosquitto.port, [`${DEV}/twin/get/result`], 1, () => mosquittoPub(mosquitto.port, `${DEV}/twin/get`, '{"event_id":"g2","timestamp":0}').then(() => undefined), { waitSeconds: 3 });
      const v = (got[0]?.json.twin as Record<string, { expected?: { value: string } }> | undefined)?.setpoint?.expected?.value;
      return v === '13' ? v : undefined;
    }, 20_000);
    expect(value).toBe('13');
  });

  it('never applies a retained $hw/ message the broker replays: not at subscribe, not on every restart', async () => {
    const setpoint = async (eventId: string): Promise<string | undefined> => {
      const got = await mosquittoSubWhile(mosquitto.port, [`${DEV}/twin/get/result`], 1, () => mosquittoPub(mosquitto.port, `${DEV}/twin/get`, JSON.stringify({ event_id: eventId, timestamp: 0 })).then(() => undefined), { waitSeconds: 3 });
      return (got[0]?.json.twin as Record<string, { expected?: { value: string } }> | undefined)?.setpoint?.expected?.value;
    };
    // A stale (or forged) update left retained on mosquitto: it is live once (retain flag
    // cleared on live delivery, [MQTT-3.3.1-9]) and then stored by the broker.
    await mosquittoPub(mosquitto.port, `${DEV}/twin/update`, JSON.stringify({ event_id: 'stale', timestamp: 0, twin: { setpoint: { expected: { value: '26' } } } }), { args: ['-r'] });
    expect(await eventually(async () => ((await setpoint('r1')) === '26' ? '26' : undefined), 20_000)).toBe('26');
    // A newer value, then a restart: mosquitto replays the retained '26' on resubscribe, flagged retained.
    await mosquittoPub(mosquitto.port, `${DEV}/twin/update`, JSON.stringify({ event_id: 'newer', timestamp: 0, twin: { setpoint: { expected: { value: '27' } } } }));
    expect(await eventually(async () => ((await setpoint('r2')) === '27' ? '27' : undefined), 20_000)).toBe('27');
    for (let restart = 1; restart <= 2; restart++) {
      await edge.stop();
      edge = await spawnEdge([...externalArgs(tmp.dir, mosquitto.url, writeConfig(tmp.dir, { answerQos: 1 })), '--log-level', 'warn']);
      await eventually(async () => (edge.output().stderr.includes('retained message under $hw/ ignored') ? true : undefined), 20_000);
      expect(await setpoint(`r3-${restart}`)).toBe('27');
    }
    // Cleared for the tests after this one.
    await mosquittoPub(mosquitto.port, `${DEV}/twin/update`, '', { args: ['-r'] });
  });
});

describe.skipIf(SKIP)('external mode over MQTT 5', () => {
  const tmp = tempDir('edgetwin-ext5-');
  let mosquitto: Mosquitto | undefined;
  let edge: RunningEdge | undefined;
  afterAll(async () => {
    await edge?.stop();
    await mosquitto?.close();
    tmp.cleanup();
  });

  it('keeps its session while stopped (Session Expiry never): updates sent meanwhile are applied on return', async () => {
    mosquitto = await startMosquitto();
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const args = externalArgs(tmp.dir, mosquitto.url, writeConfig(tmp.dir, { external: { protocolVersion: 5 } }));
    edge = await spawnEdge(args);
    expect(await edge.stop()).toBe(0);
    await mosquittoPub(mosquitto.port, `${DEV}/twin/update`, JSON.stringify({ event_id: 'v5', timestamp: 0, twin: { setpoint: { expected: { value: '17' } } } }));
    edge = await spawnEdge(args);
    const value = await eventually(async () => {
      const got = await mosquittoSubWhile(mosquitto!.port, [`${DEV}/twin/get/result`], 1, () => mosquittoPub(mosquitto!.port, `${DEV}/twin/get`, '{"event_id":"g5","timestamp":0}').then(() => undefined), { waitSeconds: 3 });
      const v = (got[0]?.json.twin as Record<string, { expected?: { value: string } }> | undefined)?.setpoint?.expected?.value;
      return v === '17' ? v : undefined;
    }, 20_000);
    expect(value).toBe('17');
  });
});

describe.skipIf(SKIP)('external mode: started while mosquitto is down', () => {
  const tmp = tempDir('edgetwin-ext-down-');
  let mosquitto: Mosquitto | undefined;
  let edge: LaunchedEdge | undefined;
  afterEach(async () => {
    await edge?.stop('SIGKILL');
    await mosquitto?.close();
    edge = mosquitto = undefined;
  });
  afterAll(() => tmp.cleanup());

  it('does not exit, retries with backoff, says why in /readyz, and gets ready once mosquitto is up', async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const config = writeConfig(tmp.dir, { external: { reconnectBaseMs: 100, reconnectMaxMs: 400 } });
    edge = launchEdge([...externalArgs(tmp.dir, url, config), '--metrics-port', '0', '--log-level', 'info']);
    const base = await metricsUrl(edge);
    // Several failed attempts, each reported: /readyz is 503 and names the broker and the reason.
    const waiting = await eventually(async () => {
      const r = await readyz(base);
      const attempts = Number(/(?<!\d)(\d+) attempts so far/.exec(r.body.checks.externalBroker?.detail ?? '')?.[1] ?? 0);
      return attempts >= 3 ? r : undefined;
    }, 15_000);
    expect(waiting.status).toBe(503);
    expect(waiting.body.checks.externalBroker).toMatchObject({ ok: false });
    expect(waiting.body.checks.externalBroker!.detail).toContain(`not connected to the MQTT broker ${url}`);
    expect(waiting.body.checks.externalBroker!.detail).toMatch(/ECONNREFUSED/);
    expect(waiting.body.checks.broker).toBeUndefined();
    expect(edge.output().stdout).not.toContain('edgetwin ready');
    expect(edge.child.exitCode).toBeNull();
    expect(edge.output().stderr).toContain('cannot reach the MQTT broker; retrying with backoff');
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^edgetwin_mqtt_external_connected 0$/m);

    mosquitto = await startMosquitto({ port });
    const running = await edge.ready(20_000);
    expect(running.readyLine).toContain(`broker ${url} (external)`);
    const ready = await readyz(base);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.externalBroker).toEqual({ ok: true, detail: `connected to ${url}` });
    // And it serves: a get through mosquitto is answered.
    const got = await mosquittoSubWhile(port, [`${DEV}/twin/get/result`], 1, () => mosquittoPub(port, `${DEV}/twin/get`, '{"event_id":"up","timestamp":0}').then(() => undefined));
    expect(got[0]?.json).toMatchObject({ event_id: 'up' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^edgetwin_mqtt_external_connected 1$/m);
    expect(Number(/^edgetwin_mqtt_external_acked_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(await running.stop()).toBe(0);
  });

  it('stops cleanly (exit 0) on SIGTERM while still waiting for the broker', async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    edge = launchEdge([...externalArgs(tmp.dir, url, writeConfig(tmp.dir, { external: { reconnectBaseMs: 100, reconnectMaxMs: 400 } })), '--log-level', 'info']);
    await eventually(async () => (edge!.output().stderr.includes('cannot reach the MQTT broker') ? true : undefined));
    expect(await within(edge.stop('SIGTERM'), 10_000, 'exit')).toBe(0);
    expect(edge.output().stdout).toContain('edgetwin stopped');
    expect(edge.output().stdout).not.toContain('edgetwin ready');
  });
});

describe.skipIf(SKIP)('both mode: the embedded broker for local clients, bridged to mosquitto', () => {
  const tmp = tempDir('edgetwin-both-');
  let mosquitto: Mosquitto;
  let edge: RunningEdge;

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const config = writeConfig(tmp.dir, { answerQos: 1 });
    edge = await spawnEdge([...edgeArgs(tmp.dir), '--config', config, '--mqtt-mode', 'both', '--mqtt-url', mosquitto.url]);
  });

  afterAll(async () => {
    await edge?.stop();
    await mosquitto?.close();
    tmp.cleanup();
  });

  it('serves its own port and names the external broker', () => {
    expect(edge.port).not.toBe(mosquitto.port);
    expect(edge.readyLine).toContain(`(both: external ${mosquitto.url})`);
  });

  it('an update on the embedded broker is answered on both; one on mosquitto too; each is applied once', async () => {
    const local = await mqtt.connectAsync(edge.url, { reconnectPeriod: 0 });
    const remote = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0 });
    try {
      const seen: Record<'local' | 'remote', string[]> = { local: [], remote: [] };
      for (const [name, c] of [['local', local], ['remote', remote]] as const) {
        await c.subscribeAsync([`${DEV}/twin/update/result`, `${DEV}/twin/update/delta`], { qos: 1 });
        // A delta carries a fresh uuid event_id (KubeEdge's BuildBaseMessage), so it is told
        // apart by the value it asks for; results echo the request's event_id.
        c.on('message', (topic, payload) => {
          const kind = topic.slice(DEV.length + 1);
          const message = JSON.parse(payload.toString()) as { event_id: string; delta?: Record<string, string> };
          seen[name].push(kind === 'twin/update/delta' ? `${kind} setpoint=${message.delta?.setpoint}` : `${kind} ${message.event_id}`);
        });
      }
      await local.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: 'from-local', timestamp: 0, twin: { setpoint: { expected: { value: '21' } } } }), { qos: 1 });
      await remote.publishAsync(`${DEV}/twin/update`, JSON.stringify({ event_id: 'from-remote', timestamp: 0, twin: { setpoint: { expected: { value: '22' } } } }), { qos: 1 });
      const want = ['twin/update/result from-local', 'twin/update/delta setpoint=21', 'twin/update/result from-remote', 'twin/update/delta setpoint=22'];
      await eventually(async () => (want.every((w) => seen.local.includes(w) && seen.remote.includes(w)) ? true : undefined));
      // Nothing loops back: each answer once per side.
      expect(seen.local.filter((s) => s === 'twin/update/result from-local')).toHaveLength(1);
      expect(seen.remote.filter((s) => s === 'twin/update/result from-remote')).toHaveLength(1);
      // Applied once each: the twin's version counts two changes.
      const get = await mosquittoSubWhile(mosquitto.port, [`${DEV}/twin/get/result`], 1, () => mosquittoPub(mosquitto.port, `${DEV}/twin/get`, '{"event_id":"v","timestamp":0}').then(() => undefined));
      expect(get[0]?.json).toMatchObject({ version: 2, twin: { setpoint: { expected: { value: '22' } } } });
    } finally {
      await Promise.all([local.endAsync(), remote.endAsync()]);
    }
  });

  it('device data published by a local mapper reaches apps on mosquitto', async () => {
    const local = await mqtt.connectAsync(edge.url, { reconnectPeriod: 0 });
    try {
      const data = JSON.stringify({ event_id: '', timestamp: 0, data: { temperature: { value: '20.5', metadata: { timestamp: 0, type: 'float' } } } });
      const got = await mosquittoSubWhile(mosquitto.port, ['$ke/events/device/default/thermo/data/update'], 1, () => local.publishAsync('$ke/events/device/default/thermo/data/update', data, { qos: 1 }).then(() => undefined));
      expect(got[0]).toMatchObject({ topic: '$ke/events/device/default/thermo/data/update', json: { data: { temperature: { value: '20.5' } } } });
    } finally {
      await local.endAsync();
    }
  });
});
