// The Modbus mapper's configData vocabulary: JSON Schemas for `spec.protocol.configData` and
// `visitors.configData` (KubeEdge v1beta1 keys, kubeedge-notes §5.1), the TypeScript types derived
// from them, and their resolution into the plain values the connection, planner and codec use.
//
// Both schemas are flat objects of scalars: KubeEdge's DMI turns configData values into protobuf
// Any and fails the whole device on a nested object or array (kubeedge-notes §5.4).

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { checkConfig } from '../sdk/values.js';
import type { FromSchema } from 'json-schema-to-ts';
import { edgetwinError, type EdgetwinError } from '../../errors.js';
import type { KubeType } from '../../schemas/index.js';
import { WORD_KINDS, type ModbusPoint, type RegisterTable, type ValueKind } from './codec.js';
import { MODBUS_LIMITS } from './planner.js';

/** A port or an id may arrive as a number (YAML) or a numeric string (KubeEdge's `port: "502"`). */
const uintOrString = (maximum: number) =>
  ({ anyOf: [{ type: 'integer', minimum: 0, maximum }, { type: 'string', pattern: '^[0-9]{1,10}$' }] }) as const;

export const PROTOCOL_CONFIG_SCHEMA = {
  type: 'object',
  // Unknown keys are errors: they catch `slaveId` for `slaveID` and similar typos.
  additionalProperties: false,
  properties: {
    communicateMode: { enum: ['TCP', 'RTU', 'tcp', 'rtu'] },
    ip: { type: 'string', minLength: 1 },
    port: uintOrString(65535),
    slaveID: uintOrString(255),
    /** Milliseconds per request (connect, or request to response). */
    timeout: uintOrString(3_600_000),
    serialName: { type: 'string', minLength: 1 },
    /** The v1alpha2 mapper's name for serialName. */
    serialPort: { type: 'string', minLength: 1 },
    baudRate: uintOrString(4_000_000),
    dataBits: { enum: [5, 6, 7, 8] },
    stopBits: { enum: [1, 2] },
    /** `even`/`E` and `odd`/`O` (any case); anything else, `None` included, is no parity. */
    parity: { type: 'string' },
    /** Accepted for KubeEdge compatibility; RS-485 direction control is the adapter's business here. */
    rs485Enabled: { type: 'boolean' },
    maxRegistersPerRequest: { type: 'integer', minimum: 1, maximum: MODBUS_LIMITS.readRegisters },
    maxBitsPerRequest: { type: 'integer', minimum: 1, maximum: MODBUS_LIMITS.readBits },
    maxGap: { type: 'integer', minimum: 0, maximum: MODBUS_LIMITS.readRegisters },
  },
} as const;

export const DATA_TYPES = [
  // KubeEdge's names (width from `limit`); `bool` is the v1beta1 example mapper's spelling.
  'int', 'uint', 'float', 'double', 'string', 'boolean', 'bool', 'bytes',
  // Explicit widths.
  'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64',
] as const;

export const VISITOR_CONFIG_SCHEMA = {
  type: 'object',
  required: ['register', 'offset'],
  additionalProperties: false,
  properties: {
    register: { enum: ['CoilRegister', 'DiscreteInputRegister', 'HoldingRegister', 'InputRegister'] },
    offset: { type: 'integer', minimum: 0, maximum: 65535 },
    /** Registers for the word tables, bits for coils and discrete inputs. */
    limit: { type: 'integer', minimum: 1, maximum: MODBUS_LIMITS.readBits },
    dataType: { enum: DATA_TYPES },
    scale: { type: 'number', not: { const: 0 } },
    isSwap: { type: 'boolean' },
    isRegisterSwap: { type: 'boolean' },
  },
} as const;

export type ModbusProtocolConfig = FromSchema<typeof PROTOCOL_CONFIG_SCHEMA>;
export type ModbusVisitorConfig = FromSchema<typeof VISITOR_CONFIG_SCHEMA>;
export type ModbusDataType = (typeof DATA_TYPES)[number];

export type Parity = 'none' | 'even' | 'odd';

/** Where and how to reach one device (one Modbus unit). */
export type ModbusEndpoint =
  | { readonly mode: 'TCP'; readonly host: string; readonly port: number }
  | {
      readonly mode: 'RTU';
      readonly path: string;
      readonly baudRate: number;
      readonly dataBits: 5 | 6 | 7 | 8;
      readonly stopBits: 1 | 2;
      readonly parity: Parity;
    };

export interface ModbusConnectionConfig {
  readonly endpoint: ModbusEndpoint;
  readonly unitId: number;
  readonly timeoutMs: number;
  readonly maxRegistersPerRequest: number;
  readonly maxBitsPerRequest: number;
  readonly maxGap: number;
}

export const DEFAULT_TIMEOUT_MS = 1000;
export const DEFAULT_TCP_PORT = 502;
/** Reading a few unused registers costs less than another round trip (~0.1 ms vs a few bytes). */
export const DEFAULT_MAX_GAP = 8;
// Modbus over Serial Line v1.02 §2.5.1: 19200 baud is the required default. Parity is not that
// spec's even but KubeEdge's none: a Device written for KubeEdge's Modbus mapper (which maps
// `even`→E, `odd`→O and everything else, absent included, to N: `parity()` in kubeedge/examples
// temperature-sensor-demo/modbus/driver/modbus-client.go) must get the framing it got there.
const DEFAULT_BAUD_RATE = 19200;

function configError(where: string, message: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `Modbus ${where}: ${message}`, [{ path: where, message }]);
}

function toUint(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === 'number' ? value : Number.parseInt(value, 10);
}

const PARITY: Readonly<Record<string, Parity>> = { even: 'even', e: 'even', odd: 'odd', o: 'odd' };

/**
 * KubeEdge's parity rule: even → E, odd → O, anything else → none. Case-insensitive here, so the
 * CRD comment's own spelling (`None/Even/Odd`) means what it says; KubeEdge's example mapper
 * compares case-sensitively and would frame `Even` without parity (docs: mappers/modbus/README.md).
 */
export function parityOf(value: string | undefined): Parity {
  return (value === undefined ? undefined : PARITY[value.trim().toLowerCase()]) ?? 'none';
}

/**
 * Resolves a schema-valid `protocol.configData` into a connection config. Throws
 * EDGETWIN_ERR_MAPPER_CONFIG for what the schema cannot say (TCP without `ip`, RTU without a
 * serial device, a port out of range). The mode defaults to RTU when a serial device is named.
 */
export function resolveProtocolConfig(config: ModbusProtocolConfig): ModbusConnectionConfig {
  const serial = config.serialName ?? config.serialPort;
  const mode = config.communicateMode?.toUpperCase() ?? (serial !== undefined ? 'RTU' : 'TCP');
  let endpoint: ModbusEndpoint;
  if (mode === 'TCP') {
    if (config.ip === undefined) throw configError('protocol', 'communicateMode TCP needs `ip`');
    const port = toUint(config.port, DEFAULT_TCP_PORT);
    if (port < 1 || port > 65535) throw configError('protocol', `port ${port} is outside 1..65535`);
    endpoint = { mode: 'TCP', host: config.ip, port };
  } else {
    if (serial === undefined) throw configError('protocol', 'communicateMode RTU needs `serialName`');
    const baudRate = toUint(config.baudRate, DEFAULT_BAUD_RATE);
    if (baudRate < 1) throw configError('protocol', 'baudRate must be positive');
    endpoint = {
      mode: 'RTU',
      path: serial,
      baudRate,
      dataBits: config.dataBits ?? 8,
      stopBits: config.stopBits ?? 1,
      parity: parityOf(config.parity),
    };
  }
  const unitId = toUint(config.slaveID, 1);
  if (unitId > 255) throw configError('protocol', `slaveID ${unitId} is outside 0..255`);
  const timeoutMs = toUint(config.timeout, DEFAULT_TIMEOUT_MS);
  return {
    endpoint,
    unitId,
    // 0 would mean "wait forever", which would let a silent device hang a poll loop.
    timeoutMs: timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS,
    maxRegistersPerRequest: config.maxRegistersPerRequest ?? MODBUS_LIMITS.readRegisters,
    maxBitsPerRequest: config.maxBitsPerRequest ?? MODBUS_LIMITS.readBits,
    maxGap: config.maxGap ?? DEFAULT_MAX_GAP,
  };
}

/** The dataType a visitor gets when it names none: the one matching the model's type. */
const DEFAULT_DATA_TYPE: Readonly<Record<KubeType, ModbusDataType>> = {
  int: 'int',
  float: 'float',
  double: 'double',
  boolean: 'boolean',
  string: 'string',
  bytes: 'bytes',
};

/** Registers per value of the fixed-width kinds. */
const WIDTH: Partial<Record<ValueKind, number>> = {
  int16: 1, uint16: 1, int32: 2, uint32: 2, int64: 4, uint64: 4, float32: 2, float64: 4, boolean: 1,
};

const EXPLICIT_KINDS: Readonly<Partial<Record<ModbusDataType, ValueKind>>> = {
  float: 'float32', double: 'float64', boolean: 'boolean', bool: 'boolean', string: 'string', bytes: 'bytes',
  int16: 'int16', uint16: 'uint16', int32: 'int32', uint32: 'uint32', int64: 'int64', uint64: 'uint64',
  float32: 'float32', float64: 'float64',
};

const isBitTable = (table: RegisterTable): boolean => table === 'CoilRegister' || table === 'DiscreteInputRegister';

/** `int`/`uint` take their width from `limit` (1, 2 or 4 registers), as KubeEdge's int does. */
function widthKind(dataType: 'int' | 'uint', limit: number | undefined, where: string): ValueKind {
  const registers = limit ?? 1;
  const bits = ({ 1: 16, 2: 32, 4: 64 } as Partial<Record<number, number>>)[registers];
  if (bits === undefined) throw configError(where, `dataType ${dataType} needs limit 1, 2 or 4 (registers), not ${registers}`);
  return `${dataType}${bits}` as ValueKind;
}

function bitTableKind(dataType: ModbusDataType, limit: number, where: string): ValueKind {
  if (dataType === 'boolean' || dataType === 'bool') {
    if (limit !== 1) throw configError(where, `dataType ${dataType} on a bit table needs limit 1, not ${limit}`);
    return 'boolean';
  }
  if (dataType === 'bytes') return 'bytes';
  if (dataType === 'int' || dataType === 'uint') {
    // An unsigned bit field: bit i is the coil at offset + i. 53 bits keep it a safe integer.
    if (limit > 53) throw configError(where, `a ${dataType} bit field is at most 53 bits, not ${limit}`);
    return 'bitfield';
  }
  throw configError(where, `dataType ${dataType} cannot be read from coils or discrete inputs (use boolean, int, uint or bytes)`);
}

/**
 * Resolves a schema-valid `visitors.configData` into a ModbusPoint. Throws
 * EDGETWIN_ERR_MAPPER_CONFIG when dataType and limit disagree (a float in one register), when the
 * range runs past address 65535, or when it is longer than one request may carry.
 */
export function resolveVisitorConfig(visitor: ModbusVisitorConfig, modelType: KubeType, property = 'visitor'): ModbusPoint {
  const where = `property "${property}"`;
  const table = visitor.register;
  const dataType = visitor.dataType ?? DEFAULT_DATA_TYPE[modelType];
  let kind: ValueKind;
  let limit: number;
  if (isBitTable(table)) {
    limit = visitor.limit ?? 1;
    kind = bitTableKind(dataType, limit, where);
  } else {
    if (dataType === 'int' || dataType === 'uint') kind = widthKind(dataType, visitor.limit, where);
    // KubeEdge's v1beta1 example mapper reads `float`/`double` with `limit: 1` as ONE register
    // × scale (DataNormalize in kubeedge/examples temperature-sensor-demo/modbus/driver/
    // driver.go; its temperature-instance.yaml: scale 0.1, so 215 is 21.5 °C). Signed, as
    // edgetwin's `int` is (the example reads it unsigned: only values ≥ 32768 differ). IEEE
    // float32 stays for limit 2, float64 for limit 4 (mappers-go's reading).
    else if ((dataType === 'float' || dataType === 'double') && visitor.limit === 1) kind = 'int16';
    else kind = EXPLICIT_KINDS[dataType] ?? 'uint16';
    const width = WIDTH[kind];
    if (width === undefined) {
      if (visitor.limit === undefined) throw configError(where, `dataType ${dataType} needs limit (registers)`);
      limit = visitor.limit;
    } else {
      // KubeEdge manifests often carry `limit: 1` for a boolean or leave it out; any other
      // mismatch is a mistake worth stopping on.
      if (visitor.limit !== undefined && visitor.limit !== width) {
        throw configError(where, `dataType ${dataType} is ${width} register(s), but limit is ${visitor.limit}`);
      }
      limit = width;
    }
    if (limit > MODBUS_LIMITS.readRegisters) {
      throw configError(where, `limit ${limit} is more than one request can read (${MODBUS_LIMITS.readRegisters} registers)`);
    }
  }
  if (!WORD_KINDS.has(kind) && !isBitTable(table)) throw configError(where, `dataType ${dataType} cannot be read from registers`);
  if (visitor.offset + limit > 65536) throw configError(where, `offset ${visitor.offset} + limit ${limit} runs past address 65535`);
  return {
    table,
    offset: visitor.offset,
    limit,
    kind,
    scale: visitor.scale ?? 1,
    isSwap: visitor.isSwap ?? false,
    isRegisterSwap: visitor.isRegisterSwap ?? false,
  };
}

let validators: { protocol: ValidateFunction<ModbusProtocolConfig>; visitor: ValidateFunction<ModbusVisitorConfig> } | undefined;

// Built on first use. The runtime validates configData against the same schemas; validating here
// too keeps the driver and the simulator safe when they are handed a manifest directly.
function getValidators(): NonNullable<typeof validators> {
  if (!validators) {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    validators = {
      protocol: ajv.compile<ModbusProtocolConfig>(PROTOCOL_CONFIG_SCHEMA),
      visitor: ajv.compile<ModbusVisitorConfig>(VISITOR_CONFIG_SCHEMA),
    };
  }
  return validators;
}


/** Validates and resolves `spec.protocol.configData` (unknown input). */
export function parseProtocolConfig(data: unknown): ModbusConnectionConfig {
  return resolveProtocolConfig(checkConfig(getValidators().protocol, data ?? {}, 'Modbus protocol configData'));
}

/** Validates and resolves one property's `visitors.configData` (unknown input). */
export function parseVisitorConfig(data: unknown, modelType: KubeType, property: string): ModbusPoint {
  return resolveVisitorConfig(checkConfig(getValidators().visitor, data, `Modbus property "${property}" visitor configData`), modelType, property);
}
