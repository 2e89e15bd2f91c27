import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../../errors.js';
import { compileModel, parseDeviceManifest } from '../../schemas/index.js';
import { bindDevice } from './config.js';
import type { MapperFactory } from './types.js';

const factory: MapperFactory = {
  protocol: 'demo',
  protocolConfigSchema: { type: 'object' },
  visitorConfigSchema: { type: 'object', required: ['offset'], additionalProperties: false, properties: { offset: { type: 'integer' }, scale: { type: 'number' } } },
  connect: () => {
    throw new Error('not used');
  },
};
const model = compileModel({ title: 'demo', type: 'object', properties: { level: { type: 'number' } } });
const device = (configData: Record<string, unknown>) =>
  parseDeviceManifest(
    {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'd' },
      spec: { deviceModelRef: { name: 'demo' }, protocol: { protocolName: 'demo' }, properties: [{ name: 'level', visitors: { protocolName: 'demo', configData } }] },
    },
    new Map([['demo', model]]),
  );

describe('bindDevice: visitor keys the mapper does not know', () => {
  it('are dropped with a coded warning, and the device is mapped (KubeEdge\'s Go mappers ignore them)', () => {
    const bound = bindDevice(factory, device({ offset: 2, max: 100.0, min: 1.0, value: 0 }), model);
    expect(bound.driverDevice.properties[0]?.visitor).toEqual({ offset: 2 });
    expect(bound.warnings.map((w) => [w.code, w.path])).toEqual([
      ['EDGETWIN_ERR_VISITOR_KEY_UNKNOWN', '/spec/properties/0/visitors/configData/max'],
      ['EDGETWIN_ERR_VISITOR_KEY_UNKNOWN', '/spec/properties/0/visitors/configData/min'],
      ['EDGETWIN_ERR_VISITOR_KEY_UNKNOWN', '/spec/properties/0/visitors/configData/value'],
    ]);
  });

  it('a known key with a bad value still refuses the device', () => {
    try {
      bindDevice(factory, device({ offset: 'two', max: 1 }), model);
      expect.unreachable();
    } catch (err) {
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG')).toBe(true);
    }
  });
});

describe('bindDevice: did you mean', () => {
  const strict: MapperFactory = {
    ...factory,
    protocolConfigSchema: { type: 'object', additionalProperties: false, properties: { ip: { type: 'string' }, slaveID: { type: 'integer' } } },
  };
  const withProtocol = (configData: Record<string, unknown>) => {
    const d = device({ offset: 1 });
    return { ...d, protocol: { protocolName: 'demo', configData } };
  };

  it('suggests the visitor key an unknown one is a typo of', () => {
    const bound = bindDevice(factory, device({ offset: 2, scael: 2 }), model);
    expect(bound.warnings[0]?.message).toBe('property "level": visitor key "scael" means nothing to the demo mapper; ignored; did you mean "scale"?');
  });

  it('suggests the protocol key an unknown one is a typo of', () => {
    try {
      bindDevice(strict, withProtocol({ ip: '127.0.0.1', slaveId: 1 }), model);
      expect.unreachable();
    } catch (err) {
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG')).toBe(true);
      expect((err as Error).message).toContain('/spec/protocol/configData unknown key "slaveId"; did you mean "slaveID"?');
    }
  });
});
