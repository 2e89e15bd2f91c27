// Device values as Prometheus metrics, end to end: a real EdgeCore with a simulated Modbus
// thermostat (the bundled Modbus mapper in-process) and a device reported over MQTT. /metrics
// carries edgetwin_device_property_value for the properties opted in (reportToCloud, a device
// entry), promtool finds the whole exposition clean, and the series cap refuses new series with
// one coded warning while those already exported keep their place.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { EdgeCore } from '../edgecore/index.js';
import { resolveConfig } from '../schemas/index.js';
import { eventually } from './async.js';
import { EXAMPLES, TestClient, tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { requirePeer } from './peers.js';
import { PROM_CLIENT_LINT, promtoolCheck } from './prometheus-fixture.js';

type Line = { name: string; labels: Record<string, string>; value: number };

/** The samples of one metric in an exposition (label values here hold no quotes or commas). */
function samples(text: string, name: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    if (open > 0) {
      for (const pair of line.slice(open + 1, close).split(',')) {
        const eq = pair.indexOf('=');
        if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1);
      }
    }
    out.push({ name, labels, value: Number(line.slice((open > 0 ? close : name.length) + 1).trim()) });
  }
  return out;
}

describe.skipIf(!requirePeer('prometheus'))('device values on /metrics of a running node', () => {
  const tmp = tempDir('edgetwin-device-values-');
  const logs: Array<Record<string, unknown>> = [];
  let core: EdgeCore;
  let client: TestClient;
  const scrape = async (): Promise<string> => (await fetch(`${core.metricsUrl!}/metrics`)).text();

  beforeAll(async () => {
    const port = await freePort();
    const modbus = readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8')
      .replace('port: "1502"', `port: "${port}"`)
      .replace('nodeName: edge-1', 'nodeName: edge-test')
      .replaceAll('collectCycle: 1000', 'collectCycle: 100')
      .replaceAll('reportCycle: 1000', 'reportCycle: 100');
    const devices = path.join(tmp.dir, 'devices');
    writeManifests(devices, { 'thermostat.yaml': modbus, 'thermo.yaml': thermostatManifest('thermo') });
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    core = new EdgeCore({
      config: resolveConfig({
        nodeName: 'edge-test',
        dataDir: path.join(tmp.dir, 'data'),
        devices: [devices],
        mqtt: { port: 0 },
        http: { port: 0 },
        simulate: ['default/thermostat'],
        mappers: { enabled: ['modbus'] },
        // The Modbus thermostat exports what its manifest marks reportToCloud (temperature,
        // setpoint); thermo is opted in whole (temperature, setpoint, power). Room for three.
        telemetry: { prometheus: { maxSeries: 3, devices: { 'default/thermo': { enabled: true } } } },
      }),
      logger,
    });
    await core.start();
    client = await TestClient.connect(core.brokerUrl);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await core?.stop();
    tmp.cleanup();
  });

  it('exports the simulated Modbus device\'s reportToCloud properties with their unit and report time; promtool passes', async () => {
    const text = await eventually(async () => {
      const t = await scrape();
      return samples(t, 'edgetwin_device_property_value').length === 2 ? t : undefined;
    }, 30_000);
    const values = samples(text, 'edgetwin_device_property_value');
    expect(values.map((v) => v.labels).sort((a, b) => (a.property ?? '').localeCompare(b.property ?? ''))).toEqual([
      { device: 'default/thermostat', property: 'setpoint', unit: 'Celsius' },
      { device: 'default/thermostat', property: 'temperature', unit: 'Celsius' },
    ]);
    expect(values.every((v) => Number.isFinite(v.value))).toBe(true);
    // The simulator's setpoint is the manifest's desired 21, written by the closed loop and read back.
    await eventually(async () => (samples(await scrape(), 'edgetwin_device_property_value').find((v) => v.labels.property === 'setpoint')?.value === 21 ? true : undefined), 30_000);
    const reportedAt = samples(text, 'edgetwin_device_property_last_report_timestamp_seconds');
    expect(reportedAt).toHaveLength(2);
    for (const r of reportedAt) expect(Math.abs(r.value - Date.now() / 1000)).toBeLessThan(600);
    // mode is a string and power is not reportToCloud: neither is exported.
    expect(text).not.toMatch(/edgetwin_device_property_value\{[^}]*property="(mode|power)"/);

    const { code, findings } = await promtoolCheck(text);
    expect(findings.filter((f) => !PROM_CLIENT_LINT.test(f)), 'promtool findings').toEqual([]);
    expect([0, 3]).toContain(code);
  });

  it('at maxSeries, new series are not exported, one coded warning is logged, exported ones keep their place', async () => {
    const D = '$hw/events/device/default/thermo';
    await client.publish(`${D}/twin/update`, { twin: { temperature: { actual: { value: '19.5' } }, setpoint: { actual: { value: '20' } }, power: { actual: { value: 'true' } } } });
    await client.next(`${D}/twin/update/result`);
    let text = '';
    for (let i = 0; i < 3; i++) text = await scrape();
    const values = samples(text, 'edgetwin_device_property_value');
    expect(values).toHaveLength(3);
    expect(values.filter((v) => v.labels.device === 'default/thermostat')).toHaveLength(2);
    expect(values.filter((v) => v.labels.device === 'default/thermo')).toHaveLength(1);
    expect(samples(text, 'edgetwin_device_property_series')[0]?.value).toBe(3);
    expect(samples(text, 'edgetwin_device_property_series_refused')[0]?.value).toBe(2);
    const warnings = logs.filter((l) => l.code === 'EDGETWIN_ERR_METRICS_SERIES_LIMIT');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ maxSeries: 3, refused: 2 });
    const { code, findings } = await promtoolCheck(text);
    expect(findings.filter((f) => !PROM_CLIENT_LINT.test(f))).toEqual([]);
    expect([0, 3]).toContain(code);
  });
});
