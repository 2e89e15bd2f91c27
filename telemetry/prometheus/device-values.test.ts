import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { DeviceTwinState, TwinState } from '../../devicetwin/index.js';
import { BUNDLED_MODELS_DIR, loadModels, type DeviceInstance } from '../../schemas/index.js';
import { DeviceValueCollector, numericValue } from './device-values.js';
import { DEFAULT_DEVICE_VALUES_POLICY, selectsProperty, type DeviceValuesPolicy } from './policy.js';

const thermostat = loadModels([BUNDLED_MODELS_DIR]).models.get('thermostat')!;

function device(name: string, actual: Record<string, string>, reportToCloud: readonly string[] = []): { instance: DeviceInstance; model: typeof thermostat; state: DeviceTwinState } {
  const id = `default/${name}`;
  const twins: Record<string, TwinState> = {};
  for (const [k, v] of Object.entries(actual)) twins[k] = { optional: true, type: thermostat.properties.get(k)!.type, actual: { value: v, timestamp: 1_000_000 }, expectedVersion: { cloud: 0, edge: 0 }, actualVersion: { cloud: 0, edge: 1 } };
  return {
    instance: { namespace: 'default', name, id, model: 'thermostat', properties: [...thermostat.properties.keys()].map((p) => ({ name: p, ...(reportToCloud.includes(p) ? { reportToCloud: true } : {}) })) },
    model: thermostat,
    state: { id, namespace: 'default', name, version: 1, twins, state: 'online', lastOnline: '' },
  };
}

function collector(policy: Partial<DeviceValuesPolicy>, devices: () => ReturnType<typeof device>[]) {
  const registry = new Registry();
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const c = new DeviceValueCollector({ policy: { ...DEFAULT_DEVICE_VALUES_POLICY, ...policy }, twin: () => ({ list: devices }), registry, logger });
  return { c, registry, logs };
}

describe('device values as metrics', () => {
  it('selects a property by the device entry, else the model entry, else reportToCloud', () => {
    const p = { ...DEFAULT_DEVICE_VALUES_POLICY, devices: new Map([['default/a', false]]), models: new Map([['thermostat', true]]) };
    expect(selectsProperty(p, 'default/a', 'thermostat', true)).toBe(false);
    expect(selectsProperty(p, 'default/b', 'thermostat', false)).toBe(true);
    expect(selectsProperty(DEFAULT_DEVICE_VALUES_POLICY, 'default/b', 'thermostat', true)).toBe(true);
    expect(selectsProperty(DEFAULT_DEVICE_VALUES_POLICY, 'default/b', 'thermostat', false)).toBe(false);
    expect(selectsProperty({ ...DEFAULT_DEVICE_VALUES_POLICY, reportToCloud: false }, 'default/b', 'thermostat', true)).toBe(false);
    expect(selectsProperty({ ...p, enabled: false }, 'default/b', 'thermostat', true)).toBe(false);
  });

  it('reads numbers as written and booleans as 1/0; strings and bytes have no value', () => {
    expect(numericValue('float', '21.5')).toBe(21.5);
    expect(numericValue('int', '-3')).toBe(-3);
    expect(numericValue('double', '1e3')).toBe(1000);
    expect(numericValue('boolean', 'true')).toBe(1);
    expect(numericValue('boolean', 'false')).toBe(0);
    expect(numericValue('string', '1')).toBeUndefined();
    expect(numericValue('float', '')).toBeUndefined();
  });

  it('exports the selected values with unit and report time; a device that leaves frees its series for another', async () => {
    let devices = [device('a', { temperature: '21.5', power: 'true', mode: 'heat' }, ['temperature', 'power', 'mode'])];
    const { c, registry, logs } = collector({ maxSeries: 2 }, () => devices);
    let text = await registry.metrics();
    expect(text).toContain('edgetwin_device_property_value{device="default/a",property="temperature",unit="Celsius"} 21.5');
    expect(text).toContain('edgetwin_device_property_value{device="default/a",property="power",unit=""} 1');
    expect(text).toContain('edgetwin_device_property_last_report_timestamp_seconds{device="default/a",property="temperature"} 1000');
    expect(text).not.toContain('property="mode"');
    devices = [...devices, device('b', { temperature: '5' }, ['temperature'])];
    text = await registry.metrics();
    expect(text).not.toContain('device="default/b"');
    expect(c.stats()).toEqual({ series: 2, refused: 1 });
    await registry.metrics();
    expect(logs.filter((l) => l.code === 'EDGETWIN_ERR_METRICS_SERIES_LIMIT')).toHaveLength(1);
    devices = [devices[1]!];
    await registry.metrics(); // a frees its places at this scrape…
    text = await registry.metrics(); // …and b takes one at the next
    expect(text).toContain('edgetwin_device_property_value{device="default/b",property="temperature",unit="Celsius"} 5');
    expect(text).not.toContain('device="default/a"');
  });

  it('exports nothing when telemetry.prometheus.enabled is false', async () => {
    const { registry } = collector({ enabled: false }, () => [device('a', { temperature: '1' }, ['temperature'])]);
    expect(await registry.metrics()).not.toContain('edgetwin_device_property_value{');
  });
});
