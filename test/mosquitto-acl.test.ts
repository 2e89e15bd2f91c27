// `edgetwin acl mosquitto`: the generated ACL, loaded by a real mosquitto with a password file
// made by mosquitto_passwd, gives each role of docs/security.md its rights, with edgetwin
// running in external mode as its own user (credentials in --mqtt-url).

import { required, requirePeer } from './peers.js';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { MOSQUITTO_PASSWD_BIN, mosquittoPub, mosquittoSubWhile, startMosquitto, type Mosquitto } from './mosquitto.js';
import { BUILT, edgeArgs, runCli, spawnEdge, type RunningEdge } from './process.js';

const run = promisify(execFile);
const SKIP = !BUILT || !requirePeer('mosquitto', 'mosquitto-clients') || !required('mosquitto_passwd', MOSQUITTO_PASSWD_BIN !== undefined, 'apt-get install mosquitto');
const THERMO = '$hw/events/device/default/thermo';
const PRESS = '$hw/events/device/plant/press-3';
const PASSWORDS: Record<string, string> = { edgetwin: 'twin-pw', dashboard: 'app-pw', operator: 'writer-pw', 'acme-mapper': 'mapper-pw', root: 'admin-pw' };

const as = (user: string): { args: string[] } => ({ args: ['-V', 'mqttv5', '-u', user, '-P', PASSWORDS[user]!] });
/** The reason code of the PUBACK mosquitto_pub -d printed (MQTT 5: 0 ok, 135 not authorized). */
const pubackCode = (out: string): number => Number(/received PUBACK \(Mid: \d+, RC:(\d+)\)/.exec(out)?.[1] ?? -1);

describe.skipIf(SKIP)('edgetwin acl mosquitto: the roles, enforced by mosquitto', () => {
  const tmp = tempDir('edgetwin-acl-');
  let mosquitto: Mosquitto;
  let edge: RunningEdge;
  let acl: string;

  beforeAll(async () => {
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, {
      'thermo.yaml': thermostatManifest(),
      // A device of protocol `acme`: the acme mapper's rights are expanded to it.
      'press.yaml': thermostatManifest('press-3', 'plant').replace('protocolName: external', 'protocolName: acme'),
    });
    const users = path.join(tmp.dir, 'users.yaml');
    writeFileSync(
      users,
      'users:\n  dashboard: { role: app }\n  operator: { role: writer, devices: [default/thermo] }\n  acme-mapper: { role: mapper, protocols: [acme] }\n  root: { role: admin }\n',
    );
    acl = path.join(tmp.dir, 'mosquitto.acl');
    const generated = await runCli(['acl', 'mosquitto', '--users', users, '--devices', devices, '--node-name', 'edge-test', '--twin-user', 'edgetwin', '-o', acl]);
    expect(generated.code, generated.stderr).toBe(0);
    const passwords = path.join(tmp.dir, 'passwd');
    await run(MOSQUITTO_PASSWD_BIN!, ['-c', '-b', passwords, 'edgetwin', PASSWORDS.edgetwin!]);
    for (const [user, pw] of Object.entries(PASSWORDS).filter(([u]) => u !== 'edgetwin')) await run(MOSQUITTO_PASSWD_BIN!, ['-b', passwords, user, pw]);
    mosquitto = await startMosquitto({ anonymous: false, aclFile: acl, passwordFile: passwords });
    const url = `mqtt://edgetwin:${PASSWORDS.edgetwin}@127.0.0.1:${mosquitto.port}`;
    edge = await spawnEdge([...edgeArgs(tmp.dir), '--mqtt-mode', 'external', '--mqtt-url', url]);
  });

  afterAll(async () => {
    await edge?.stop();
    await mosquitto?.close();
    tmp.cleanup();
  });

  it('expands protocol-scoped mapper rights to the devices of that protocol', () => {
    const text = readFileSync(acl, 'utf8');
    expect(text).toContain(`user acme-mapper\ntopic write ${PRESS}/twin/update\n`);
    expect(text).not.toContain(`topic write ${THERMO}/twin/update\ntopic write ${THERMO}/state/update`);
    // The password never leaves edgetwin's URL: the ready line shows none.
    expect(edge.readyLine).toContain(`broker mqtt://127.0.0.1:${mosquitto.port} (external)`);
  });

  it("an app's twin/update is denied by mosquitto and changes nothing; a writer's is applied", async () => {
    const denied = await mosquittoPub(mosquitto.port, `${THERMO}/twin/update`, '{"event_id":"app","timestamp":0,"twin":{"setpoint":{"expected":{"value":"30"}}}}', as('dashboard'));
    expect(pubackCode(denied)).toBe(135);
    const results = await mosquittoSubWhile(
      mosquitto.port,
      [`${THERMO}/twin/update/result`],
      1,
      async () => {
        const ok = await mosquittoPub(mosquitto.port, `${THERMO}/twin/update`, '{"event_id":"writer","timestamp":0,"twin":{"setpoint":{"expected":{"value":"21"}}}}', as('operator'));
        expect(pubackCode(ok)).toBe(0);
      },
      as('dashboard'),
    );
    // The app reads results (and sees only the writer's update: the app's never reached the twin).
    expect(results[0]?.json).toMatchObject({ event_id: 'writer', version: 1, twin: { setpoint: { expected: { value: '21' } } } });
  });

  it('an app may twin/get and read the answer; it may not read requests', async () => {
    const got = await mosquittoSubWhile(
      mosquitto.port,
      [`${THERMO}/twin/get/result`, `${THERMO}/twin/get`],
      1,
      () => mosquittoPub(mosquitto.port, `${THERMO}/twin/get`, '{"event_id":"g","timestamp":0}', as('dashboard')).then(() => undefined),
      as('dashboard'),
    );
    expect(got.map((m) => m.topic)).toEqual([`${THERMO}/twin/get/result`]);
    expect(got[0]?.json).toMatchObject({ event_id: 'g', twin: { setpoint: { expected: { value: '21' } } } });
  });

  it('a mapper reports for the devices of its protocol only; a writer only for its devices', async () => {
    const report = '{"event_id":"m","timestamp":0,"twin":{"temperature":{"actual":{"value":"20.5"}}}}';
    expect(pubackCode(await mosquittoPub(mosquitto.port, `${PRESS}/twin/update`, report, as('acme-mapper')))).toBe(0);
    expect(pubackCode(await mosquittoPub(mosquitto.port, `${THERMO}/twin/update`, report, as('acme-mapper')))).toBe(135);
    expect(pubackCode(await mosquittoPub(mosquitto.port, `${PRESS}/twin/update`, report, as('operator')))).toBe(135);
    // The admin sees it all, requests included.
    const got = await mosquittoSubWhile(mosquitto.port, [`${PRESS}/twin/get/result`], 1, () => mosquittoPub(mosquitto.port, `${PRESS}/twin/get`, '{"event_id":"a","timestamp":0}', as('root')).then(() => undefined), as('root'));
    expect(got[0]?.json).toMatchObject({ twin: { temperature: { actual: { value: '20.5' } } }, version: 1 });
  });

  // "At once": it exits by itself instead of retrying forever; the limit only bounds a hang
  // (a loaded machine takes seconds just to start node).
  it('edgetwin with a wrong password exits at once with EDGETWIN_ERR_BROKER_CONNECT (a refusal is not retried)', { timeout: 120_000 }, async () => {
    const wrong = `mqtt://edgetwin:wrong@127.0.0.1:${mosquitto.port}`;
    const other = tempDir('edgetwin-acl-wrong-');
    try {
      writeManifests(path.join(other.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
      const result = await runCli(['run', ...edgeArgs(other.dir), '--no-metrics', '--mqtt-mode', 'external', '--mqtt-url', wrong], 90_000);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error EDGETWIN_ERR_BROKER_CONNECT: Cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: /m);
      expect(result.stderr).not.toContain('wrong');
      expect(result.stdout).not.toContain('edgetwin ready');
    } finally {
      other.cleanup();
    }
  });

  it('refuses a wrong password and anonymous clients (CONNACK not authorized)', async () => {
    await expect(mosquittoPub(mosquitto.port, `${THERMO}/twin/get`, '{}', { args: ['-u', 'dashboard', '-P', 'wrong'] })).rejects.toThrow(/not authori[sz]ed|Connection Refused/i);
    await expect(mosquittoPub(mosquitto.port, `${THERMO}/twin/get`, '{}')).rejects.toThrow(/not authori[sz]ed|Connection Refused/i);
  });
});
