import { describe, expect, it, vi } from 'vitest';
import { isEdgetwinError } from '../../errors.js';
import { parseProtocolConfig, parseVisitorConfig } from './config.js';

function configCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isEdgetwinError(err) ? err.code : 'not coded';
  }
  return undefined;
}

describe('protocol configData', () => {
  it('resolves KubeEdge v1beta1 TCP keys, with port as a string', () => {
    const warn = vi.spyOn(console, 'warn');
    expect(parseProtocolConfig({ communicateMode: 'TCP', ip: '127.0.0.1', port: '1502', slaveID: 1 })).toEqual({
      endpoint: { mode: 'TCP', host: '127.0.0.1', port: 1502 },
      unitId: 1,
      timeoutMs: 1000,
      maxRegistersPerRequest: 125,
      maxBitsPerRequest: 2000,
      maxGap: 8,
    });
    // ajv strict mode would log schema problems here.
    expect(warn).not.toHaveBeenCalled();
  });

  it('resolves RTU keys, the legacy serialPort and one-letter parity', () => {
    const config = parseProtocolConfig({ serialPort: '/dev/ttyUSB0', baudRate: 9600, parity: 'N', slaveID: '7', timeout: 250 });
    expect(config.endpoint).toEqual({ mode: 'RTU', path: '/dev/ttyUSB0', baudRate: 9600, dataBits: 8, stopBits: 1, parity: 'none' });
    expect(config.unitId).toBe(7);
    expect(config.timeoutMs).toBe(250);
    // Modbus over Serial Line §2.5.1 default baud rate; parity absent is none, as in KubeEdge.
    expect(parseProtocolConfig({ communicateMode: 'RTU', serialName: '/dev/ttyS1' }).endpoint).toMatchObject({ baudRate: 19200, parity: 'none' });
  });

  // KubeEdge's example mapper (temperature-sensor-demo modbus-client.go `parity`): even → E,
  // odd → O, anything else → N. Absent used to mean even here: a silently wrong framing.
  it.each([
    ['even', 'even'],
    ['Even', 'even'],
    ['E', 'even'],
    ['odd', 'odd'],
    ['O', 'odd'],
    ['None', 'none'],
    ['none', 'none'],
    ['N', 'none'],
    ['mark', 'none'],
    [undefined, 'none'],
  ])('parity %s frames as %s', (parity, framing) => {
    const data = { communicateMode: 'RTU', serialName: '/dev/ttyS1', ...(parity !== undefined ? { parity } : {}) };
    expect(parseProtocolConfig(data).endpoint).toMatchObject({ parity: framing });
  });

  it.each([
    ['a typo in a key', { ip: 'h', slaveId: 1 }],
    ['TCP without ip', { communicateMode: 'TCP' }],
    ['RTU without a serial device', { communicateMode: 'RTU' }],
    ['slaveID out of range', { ip: 'h', slaveID: 300 }],
    ['a nested object', { ip: 'h', tcp: { port: 1 } }],
    ['maxRegistersPerRequest above the protocol limit', { ip: 'h', maxRegistersPerRequest: 126 }],
    ['port 0', { ip: 'h', port: 0 }],
  ])('%s → EDGETWIN_ERR_MAPPER_CONFIG', (_name, data) => {
    expect(configCode(() => parseProtocolConfig(data))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
  });
});

describe('visitor configData', () => {
  it('takes int widths from limit and defaults dataType from the model type', () => {
    expect(parseVisitorConfig({ register: 'HoldingRegister', offset: 4, limit: 2, dataType: 'int' }, 'int', 'p')).toMatchObject({ kind: 'int32', limit: 2 });
    expect(parseVisitorConfig({ register: 'InputRegister', offset: 0, limit: 4, dataType: 'uint' }, 'int', 'p')).toMatchObject({ kind: 'uint64' });
    expect(parseVisitorConfig({ register: 'InputRegister', offset: 0 }, 'float', 'p')).toMatchObject({ kind: 'float32', limit: 2, scale: 1 });
    expect(parseVisitorConfig({ register: 'CoilRegister', offset: 3 }, 'boolean', 'p')).toMatchObject({ kind: 'boolean', limit: 1 });
    expect(parseVisitorConfig({ register: 'HoldingRegister', offset: 0, limit: 1, dataType: 'bool' }, 'boolean', 'p')).toMatchObject({ kind: 'boolean' });
    expect(parseVisitorConfig({ register: 'CoilRegister', offset: 0, limit: 16, dataType: 'uint' }, 'int', 'p')).toMatchObject({ kind: 'bitfield' });
    expect(
      parseVisitorConfig({ register: 'HoldingRegister', offset: 2, limit: 2, dataType: 'string', scale: 1, isSwap: true, isRegisterSwap: false }, 'string', 'p'),
    ).toEqual({ table: 'HoldingRegister', offset: 2, limit: 2, kind: 'string', scale: 1, isSwap: true, isRegisterSwap: false });
  });

  it('reads float and double with limit 1 as one register × scale (the v1beta1 example mapper); IEEE for limit 2 and 4', () => {
    expect(parseVisitorConfig({ register: 'HoldingRegister', offset: 0, limit: 1, dataType: 'float', scale: 0.1 }, 'float', 'p')).toMatchObject({ kind: 'int16', limit: 1, scale: 0.1 });
    expect(parseVisitorConfig({ register: 'InputRegister', offset: 3, limit: 1, dataType: 'double' }, 'double', 'p')).toMatchObject({ kind: 'int16', limit: 1 });
    expect(parseVisitorConfig({ register: 'HoldingRegister', offset: 0, limit: 2, dataType: 'float' }, 'float', 'p')).toMatchObject({ kind: 'float32', limit: 2 });
    expect(parseVisitorConfig({ register: 'HoldingRegister', offset: 0, limit: 4, dataType: 'double' }, 'double', 'p')).toMatchObject({ kind: 'float64', limit: 4 });
  });

  it.each([
    ['float in three registers', { register: 'HoldingRegister', offset: 0, limit: 3, dataType: 'float' }],
    ['int with limit 3', { register: 'HoldingRegister', offset: 0, limit: 3, dataType: 'int' }],
    ['string without limit', { register: 'HoldingRegister', offset: 0, dataType: 'string' }],
    ['a float from coils', { register: 'CoilRegister', offset: 0, limit: 32, dataType: 'float' }],
    ['past address 65535', { register: 'HoldingRegister', offset: 65535, limit: 2, dataType: 'float' }],
    ['more than one request', { register: 'HoldingRegister', offset: 0, limit: 126, dataType: 'bytes' }],
    ['scale 0', { register: 'HoldingRegister', offset: 0, scale: 0 }],
    ['an unknown register table', { register: 'Holding', offset: 0 }],
    ['no offset', { register: 'HoldingRegister' }],
  ])('%s → EDGETWIN_ERR_MAPPER_CONFIG', (_name, data) => {
    expect(configCode(() => parseVisitorConfig(data, 'float', 'p'))).toBe('EDGETWIN_ERR_MAPPER_CONFIG');
  });
});
