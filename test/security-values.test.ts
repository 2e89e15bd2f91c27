// A hostile value from a mapper against the real `edgetwin run` (a separate process, so a parser
// that blocked its event loop could not also block this test's timers): the longest value the
// payload limit lets through is parsed in linear time, answered 400, and the node keeps
// serving. The old float pattern (`\d+\.?\d*`) needed O(n²) steps: about 8 minutes for the
// 1 MiB value below; schemas/values.test.ts checks every type parser at the default limit.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { BUILT, spawnEdge, type RunningEdge } from './process.js';
import { connectAs, deviceManifest, request, writeUsers } from './security-rig.js';

const DEV = '$hw/events/device/default/thermo';
const MAX_PAYLOAD = 1024 * 1024;

describe.skipIf(!BUILT && process.env.CI !== 'true')('a maximum-size value from a mapper', () => {
  const tmp = tempDir('edgetwin-values-');
  let edge: RunningEdge;
  let mapper: MqttClient;

  beforeAll(async () => {
    const devices = path.join(tmp.dir, 'devices');
    mkdirSync(devices, { recursive: true });
    writeFileSync(path.join(devices, 'thermo.yaml'), deviceManifest('thermo', 'external'));
    const users = path.join(tmp.dir, 'users.yaml');
    await writeUsers(users, { ext: { role: 'mapper', protocols: ['external'], password: 'm' } });
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        nodeName: 'edge-test',
        dataDir: path.join(tmp.dir, 'data'),
        devices: [devices],
        mappers: { enabled: [] },
        metrics: { enabled: false },
        log: { level: 'warn' },
        mqtt: { port: 0, maxPayloadBytes: MAX_PAYLOAD, maxPacketBytes: 2 * MAX_PAYLOAD, auth: { usersFile: users } },
      }),
    );
    edge = await spawnEdge(['--config', config]);
    mapper = await connectAs(edge.url, 'ext', 'm', { clientId: 'hostile-mapper' });
    mapper.on('error', () => undefined);
  });

  afterAll(async () => {
    await mapper?.endAsync(true);
    await edge?.stop();
    tmp.cleanup();
  });

  // Rejected values: a run of digits the old pattern could split between `\d+` and `\d*` in
  // every way before failing on the last character.
  it.each([
    ['digits, then a letter', (n: number) => `${'1'.repeat(n)}x`],
    ['digits, a dot, digits, then a letter', (n: number) => `${'1'.repeat(n / 2)}.${'1'.repeat(n / 2)}x`],
  ])('answers %s with 400 EDGETWIN_ERR_VALUE_TYPE', async (_what, value) => {
    const body = { twin: { temperature: { actual: { value: '' } } } };
    const room = MAX_PAYLOAD - JSON.stringify({ event_id: 'e-0123456789ab', timestamp: Date.now(), ...body }).length - 16;
    body.twin.temperature.actual.value = value(room - (room % 2));
    const answer = await request(mapper, `${DEV}/twin/update`, `${DEV}/twin/update/result`, body, 60_000);
    expect(answer).toMatchObject({ code: 400, error_code: 'EDGETWIN_ERR_VALUE_TYPE' });
    expect(String(answer.reason).length).toBeLessThan(200); // the value is not echoed whole
  }, 60_000);

  it('keeps serving: the next update and read are answered', async () => {
    const ok = await request(mapper, `${DEV}/twin/update`, `${DEV}/twin/update/result`, { twin: { temperature: { actual: { value: '21.5' } } } });
    expect(ok).toMatchObject({ twin: { temperature: { actual: { value: '21.5' } } } });
    const got = await request(mapper, `${DEV}/twin/get`, `${DEV}/twin/get/result`, {});
    expect(got).toMatchObject({ twin: { temperature: { actual: { value: '21.5' } } } });
  });
});
