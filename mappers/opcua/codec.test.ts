// Pure parts of the OPC UA mapper: NodeId strings, endpoint URLs and security, value conversion.
import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from 'edgetwin';
import { BUILTIN, decodeValue, encodeValue } from './codec.js';
import { parseEndpointUrl, resolveProtocol, resolveVisitor } from './config.js';
import { parseNodeId } from './nodeid.js';

describe('parseNodeId (OPC 10000-6 §5.3.1.10)', () => {
  it.each([
    ['i=2258', 'ns=0;i=2258'],
    ['ns=1;i=1001', 'ns=1;i=1001'],
    ['ns=2;s=Device.Temperature', 'ns=2;s=Device.Temperature'],
    ['ns=3;s=a;b=c', 'ns=3;s=a;b=c'],
    ['ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a', 'ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a'],
    ['ns=1;b=M/RbKBsRVkePCePcx24oRA==', 'ns=1;b=M/RbKBsRVkePCePcx24oRA=='],
  ])('accepts %s', (input, text) => {
    expect(parseNodeId(input)).toMatchObject({ text });
  });

  it.each(['', 'ns=1,i=1005', 'ns=1;', 'ns=x;i=1', 'ns=65536;i=1', 'ns=1;i=-1', 'ns=1;i=4294967296', 'ns=1;s=', 'ns=1;g=xyz', 'ns=1;b=abc', 'nsu=urn:x;s=a', 'Temperature', 'ns=01;i=1'])(
    'refuses %j with a sentence',
    (input) => {
      expect(typeof parseNodeId(input)).toBe('string');
    },
  );

  it('takes its maximum-size input in linear time and refuses one character more', () => {
    const max = `ns=65535;s=${'x'.repeat(4096)}`;
    expect(parseNodeId(max)).toMatchObject({ kind: 's' });
    expect(typeof parseNodeId(`ns=1;s=${'x'.repeat(4097)}`)).toBe('string');
    expect(typeof parseNodeId(`ns=1;b=${'A'.repeat(4095)}=`)).not.toBe('undefined');
    expect(typeof parseNodeId(`ns=1;${'x'.repeat(100_000)}`)).toBe('string');
  });
});

describe('protocol configData', () => {
  it('maps KubeEdge keys and defaults the mode from the policy', () => {
    expect(resolveProtocol({ url: 'opc.tcp://plc.local/UA', securityPolicy: 'Basic256Sha256' }, 'd')).toMatchObject({
      host: 'plc.local',
      port: 4840,
      resourcePath: '/UA',
      securityPolicy: 'Basic256Sha256',
      securityMode: 'SignAndEncrypt',
      timeoutMs: 5000,
    });
    expect(resolveProtocol({ url: 'opc.tcp://127.0.0.1:4841', securityPolicy: 'Aes256Sha256RsaPss', securityMode: 'Sign', timeout: '250' }, 'd')).toMatchObject({
      securityPolicy: 'Aes256_Sha256_RsaPss',
      securityMode: 'Sign',
      timeoutMs: 250,
    });
  });

  it.each([
    [{}],
    [{ url: 'opc.tcp://' }],
    [{ url: 'opc.tcp://u:p@h:4840' }],
    [{ url: 'opc.tcp://h:4840', userName: 'u' }],
    [{ url: 'opc.tcp://h:4840', certificate: '/c.pem' }],
    [{ url: 'opc.tcp://h:4840', securityPolicy: 'Basic256' }],
    [{ url: 'opc.tcp://h:4840', securityMode: 'Encrypt' }],
    [{ url: 'opc.tcp://h:4840', timeout: 0 }],
    [{ url: 'opc.tcp://h:4840', endpoint: 'x' }],
  ])('refuses %j with EDGETWIN_ERR_MAPPER_CONFIG', (raw) => {
    expect(() => resolveProtocol(raw, 'd')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' }));
  });

  it('parses an IPv6 endpoint', () => {
    expect(parseEndpointUrl('opc.tcp://[::1]:4840/x')).toEqual({ host: '::1', port: 4840, resourcePath: '/x' });
  });

  it('visitor: nodeID required, monitored and samplingInterval optional', () => {
    expect(resolveVisitor({ nodeID: 'ns=2;s=T', monitored: true, samplingInterval: 100 }, 'd', 'p')).toMatchObject({ monitored: true, samplingInterval: 100 });
    expect(() => resolveVisitor({ nodeID: 'ns=2;s=T', dataType: 'Int128' }, 'd', 'p')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_MAPPER_CONFIG' }));
  });
});

describe('values', () => {
  const scalar = (dataType: number, value: unknown) => ({ dataType, arrayType: 0, value });

  it('decodes by the property type', () => {
    expect(decodeValue(scalar(BUILTIN.Float, 21.299999237060547), 'float', 'n')).toBe(21.3);
    expect(decodeValue(scalar(BUILTIN.Int64, [0, 5]), 'int', 'n')).toBe(5);
    expect(decodeValue(scalar(BUILTIN.Int64, [0xffffffff, 0xfffffffe]), 'int', 'n')).toBe(-2);
    expect(decodeValue(scalar(BUILTIN.Int32, 7), 'string', 'n')).toBe('7');
    expect(decodeValue(scalar(BUILTIN.LocalizedText, { text: 'hi', locale: 'en' }), 'string', 'n')).toBe('hi');
    expect(decodeValue(scalar(BUILTIN.ByteString, Buffer.from('ab')), 'string', 'n')).toBe('ab');
    expect(decodeValue(scalar(BUILTIN.Byte, 1), 'boolean', 'n')).toBe(true);
  });

  it.each([
    [scalar(BUILTIN.Int64, [0x7fffffff, 0xffffffff]), 'int'],
    [{ dataType: BUILTIN.Int32, arrayType: 1, value: [1, 2] }, 'int'],
    [scalar(BUILTIN.String, 'x'), 'float'],
    [scalar(BUILTIN.Double, 1.5), 'int'],
    [scalar(22, {}), 'string'],
  ] as const)('refuses %j as %s with EDGETWIN_ERR_OPCUA_VALUE', (v, type) => {
    const r = decodeValue(v, type, 'n');
    expect(isEdgetwinError(r, 'EDGETWIN_ERR_OPCUA_VALUE'), String(r)).toBe(true);
  });

  it('encodes to the node type and refuses what does not fit', () => {
    expect(encodeValue(65535, BUILTIN.UInt16, 'n')).toEqual({ dataType: BUILTIN.UInt16, value: 65535 });
    expect(encodeValue(-2, BUILTIN.Int64, 'n')).toEqual({ dataType: BUILTIN.Int64, value: [0xffffffff, 0xfffffffe] });
    expect(encodeValue(true, BUILTIN.Boolean, 'n')).toEqual({ dataType: BUILTIN.Boolean, value: true });
    for (const [v, t] of [[65536, BUILTIN.UInt16], [1.5, BUILTIN.Int32], ['x', BUILTIN.Double], [2, BUILTIN.Boolean]] as const) {
      expect(isEdgetwinError(encodeValue(v, t, 'n'), 'EDGETWIN_ERR_OPCUA_VALUE')).toBe(true);
    }
  });
});
