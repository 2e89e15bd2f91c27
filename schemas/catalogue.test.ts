// Catalogue-wide checks (as zigbee-herdsman-converters does over every definition): every bundled
// model compiles, every example manifest and the demo config load with zero errors, and the
// examples use every bundled model.
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from './config.js';
import { loadDevices } from './devices.js';
import { BUNDLED_MODELS_DIR, compileModel, loadModels } from './models.js';

const EXAMPLES_DIR = join(BUNDLED_MODELS_DIR, '..', '..', 'examples');
const modelFiles = readdirSync(BUNDLED_MODELS_DIR).filter((f) => f.endsWith('.json'));

describe('bundled models', () => {
  it('are all there', () => {
    expect(modelFiles.sort()).toEqual(['ble-environmental-sensor.json', 'power-meter.json', 'thermostat.json']);
  });

  it.each(modelFiles)('%s compiles, with $id urn:edgetwin:model:<title> and every property typed', (file) => {
    const path = join(BUNDLED_MODELS_DIR, file);
    const model = compileModel(JSON.parse(readFileSync(path, 'utf8')), path);
    expect(model.id).toBe(`urn:edgetwin:model:${model.name}`);
    expect(model.schema.additionalProperties).toBe(false);
    expect(model.properties.size).toBeGreaterThan(0);
    // A model nobody can write to is fine for sensors, but each bundled one shows a writable property.
    expect([...model.properties.values()].some((p) => !p.readOnly)).toBe(true);
  });

  it('load together with no errors', () => {
    const { models, errors } = loadModels([BUNDLED_MODELS_DIR]);
    expect(errors).toEqual([]);
    expect([...models.keys()].sort()).toEqual(['ble-env-sensor', 'power-meter', 'thermostat']);
  });

  it('thermostat is DESIGN.md\'s example', () => {
    const thermostat = loadModels([BUNDLED_MODELS_DIR]).models.get('thermostat');
    const p = (name: string) => thermostat?.properties.get(name);
    expect(p('temperature')).toMatchObject({ type: 'float', readOnly: true, minimum: -40, maximum: 125, unit: 'Celsius' });
    expect(p('setpoint')).toMatchObject({ type: 'float', readOnly: false, minimum: 5, maximum: 35 });
    expect(p('mode')?.parse('cool')).toMatchObject({ ok: true });
    expect(p('mode')?.parse('auto')).toMatchObject({ ok: false, code: 'EDGETWIN_ERR_MODEL_VALIDATION' });
    expect(p('power')?.type).toBe('boolean');
  });
});

describe('examples', () => {
  const config = resolveConfig(loadConfigFile(join(EXAMPLES_DIR, 'edgetwin.yaml')));
  const { models } = loadModels(config.bundledModels ? [BUNDLED_MODELS_DIR, ...config.models] : config.models);

  it('the demo config resolves its paths against examples/', () => {
    expect(config).toMatchObject({ nodeName: 'edge-1', devices: [join(EXAMPLES_DIR, 'devices'), join(EXAMPLES_DIR, 'opcua', 'devices')], models: [join(EXAMPLES_DIR, 'opcua', 'models')] });
    expect(isAbsolute(config.dataDir)).toBe(true);
  });

  it('every example manifest loads with zero errors', () => {
    const { devices, errors } = loadDevices(config.devices, models);
    expect(errors).toEqual([]);
    expect(devices.map((d) => d.id).sort()).toEqual([
      'default/ble-env-sensor-1',
      'default/opcua-boiler',
      'default/power-meter-1',
      'default/power-meter-2',
      'default/thermostat',
    ]);
    for (const device of devices) expect(device.nodeName).toBe(config.nodeName);
  });

  it('use every bundled model', () => {
    const used = new Set(loadDevices(config.devices, models).devices.map((d) => d.model));
    expect([...used].sort()).toEqual([...models.keys()].sort());
  });

  it('the thermostat speaks KubeEdge Modbus TCP', () => {
    const thermostat = loadDevices(config.devices, models).devices.find((d) => d.name === 'thermostat');
    expect(thermostat?.protocol).toEqual({ protocolName: 'modbus', configData: { communicateMode: 'TCP', ip: '127.0.0.1', port: '1502', slaveID: 1 } });
    expect(thermostat?.properties.find((p) => p.name === 'setpoint')?.desired?.value).toBe('21');
  });
});
