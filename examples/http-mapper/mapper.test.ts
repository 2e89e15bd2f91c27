// The example mapper passes the same conformance suite as every bundled mapper.
import { compileModel, parseDeviceManifest } from 'edgetwin';
import { mapperConformance } from 'edgetwin/testing';
import { HttpJsonDevice } from './device.js';
import { httpJsonMapper } from './mapper.js';

const model = compileModel({
  title: 'room-sensor',
  type: 'object',
  properties: {
    temperature: { type: 'number', minimum: -40, maximum: 85, readOnly: true },
    humidity: { type: 'integer', minimum: 0, maximum: 100, readOnly: true },
    heater: { type: 'boolean' },
  },
  additionalProperties: false,
});

mapperConformance('http-json (the docs example)', async () => {
  const device = new HttpJsonDevice({ temperature: 21.5, humidity: 40, heater: false });
  const url = await device.start();
  const instance = parseDeviceManifest(
    {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'room-1', namespace: 'default' },
      spec: {
        deviceModelRef: { name: 'room-sensor' },
        protocol: { protocolName: 'http-json', configData: { url, timeoutMs: 2000 } },
        properties: [
          { name: 'temperature', visitors: { protocolName: 'http-json', configData: { key: 'temperature' } } },
          { name: 'humidity', visitors: { protocolName: 'http-json', configData: { key: 'humidity' } } },
          { name: 'heater', visitors: { protocolName: 'http-json', configData: { key: 'heater' } } },
        ],
      },
    },
    new Map([[model.name, model]]),
  );
  return {
    factory: httpJsonMapper,
    instance,
    model,
    readable: ['temperature', 'humidity'],
    writable: { property: 'heater', values: ['true', 'false'] },
    setDeviceValue: (p, wire) => void (device.state[p] = model.properties.get(p)!.parse(wire).ok ? (JSON.parse(wire) as number | boolean) : wire),
    deviceValue: (p) => String(device.state[p]),
    silence: () => device.silence(),
    drop: () => device.drop(),
    heal: () => device.heal(),
    close: () => device.close(),
  };
});
