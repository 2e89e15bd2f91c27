// defineMapper: the configs' types come from the schemas, and a device whose configs fail them
// is refused with EDGETWIN_ERR_MAPPER_CONFIG before its driver exists.

import { pino } from 'pino';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { isEdgetwinError } from '../../errors.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import { bindDevice } from './config.js';
import { defineMapper } from './define.js';
import type { DriverDevice } from './types.js';

const ctx = { logger: pino({ level: 'silent' }), now: Date.now };

const protocolConfigSchema = { type: 'object', additionalProperties: false, required: ['host'], properties: { host: { type: 'string' }, port: { type: 'integer' } } } as const;
const visitorConfigSchema = { type: 'object', additionalProperties: false, required: ['key'], properties: { key: { type: 'string', minLength: 1 } } } as const;

const seen: Array<{ host: string; keys: string[] }> = [];
const echo = defineMapper<typeof protocolConfigSchema, typeof visitorConfigSchema>({
  protocol: 'echo',
  protocolConfigSchema,
  visitorConfigSchema,
  connect: (_ctx, device) => {
    // Typed from the schemas: no cast anywhere.
    expectTypeOf(device.protocol).toEqualTypeOf<{ host: string; port?: number }>();
    seen.push({ host: device.protocol.host, keys: device.properties.map((p) => p.visitor.key) });
    return {
      read: async (props) => props.map((p) => ({ ok: true as const, value: p.visitor.key })),
      write: async () => undefined,
      state: () => 'online',
      close: async () => undefined,
    };
  },
});

function device(protocol: Record<string, unknown>, visitor: Record<string, unknown>): { instance: DeviceInstance; model: DeviceModel } {
  const model = { name: 'm', properties: new Map([['p', { name: 'p', type: 'string', readOnly: false }]]) } as unknown as DeviceModel;
  const instance = {
    id: 'default/d', namespace: 'default', name: 'd', model: 'm',
    protocol: { protocolName: 'echo', configData: protocol },
    properties: [{ name: 'p', visitors: { protocolName: 'echo', configData: visitor } }],
  } as unknown as DeviceInstance;
  return { instance, model };
}

describe('defineMapper', () => {
  it('hands connect() and the driver the configs as their schemas type them', async () => {
    const { instance, model } = device({ host: 'h1', port: 1 }, { key: 'k1' });
    const { driverDevice } = bindDevice(echo, instance, model);
    expectTypeOf(driverDevice).toEqualTypeOf<DriverDevice<{ host: string; port?: number }, { key: string }>>();
    const driver = echo.connect(ctx, driverDevice);
    expect(seen.at(-1)).toEqual({ host: 'h1', keys: ['k1'] });
    expect(await driver.read(driverDevice.properties, AbortSignal.timeout(1000))).toEqual([{ ok: true, value: 'k1' }]);
  });

  it('refuses a device built by hand whose configs fail the schemas, with EDGETWIN_ERR_MAPPER_CONFIG', () => {
    const { instance, model } = device({ host: 'h' }, { key: 'k' });
    const good = bindDevice(echo, instance, model).driverDevice;
    const bad = { ...good, protocol: { port: 'x' } } as unknown as typeof good;
    let err: unknown;
    try {
      echo.connect(ctx, bad);
    } catch (e) {
      err = e;
    }
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG')).toBe(true);
    expect((err as Error).message).toContain("the echo mapper's protocol configData");
  });
});
