// The Bluetooth mapper's configData vocabulary: JSON Schemas for `spec.protocol.configData` and
// `visitors.configData`, the TypeScript types derived from them, and their resolution into what
// the link and the codec use.
//
// KubeEdge's keys (kubeedge-notes §5.2, mappers-go `mappers/ble/configmap/type.go`): protocol
// `macAddress`; visitor `characteristicUUID`, `dataWrite`, `dataConverter`. edgetwin adds
// `localName` and timeouts (protocol), and `serviceUUID`, `dataType`, `offset`, `scale`,
// `kubeedgeCompat` (visitor); docs/bluetooth.md says what each does.
//
// The protocol block is flat scalars, as KubeEdge's DMI requires (kubeedge-notes §5.4). The
// visitor block is nested (dataConverter, dataWrite) because that is KubeEdge's BLE vocabulary.

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { checkConfig } from '../sdk/values.js';
import type { FromSchema } from 'json-schema-to-ts';
import { normalizeAddress, normalizeUuid } from './noble.js';

export const BLE_DATA_TYPES = [
  'uint8', 'int8',
  'uint16le', 'uint16be', 'int16le', 'int16be',
  'uint32le', 'uint32be', 'int32le', 'int32be',
  'float32le', 'float32be', 'float64le', 'float64be',
  'utf8', 'bool', 'bytes',
] as const;
export type BleDataType = (typeof BLE_DATA_TYPES)[number];

// Bluetooth Core v5.4 Vol 3 Part F §3.2.9: an attribute value is at most 512 bytes.
const MAX_ATTRIBUTE_BYTES = 512;

/** KubeEdge matches operation types case-insensitively (strings.ToUpper on both sides). */
function caseInsensitive(words: readonly string[]): string {
  const alternatives = words.map((w) => [...w].map((c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join(''));
  return `^(?:${alternatives.join('|')})$`;
}

export const OPERATION_TYPES = ['Add', 'Subtract', 'Multiply', 'Divide'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

const UUID = '^(?:[0-9A-Fa-f]{4}|[0-9A-Fa-f]{8}|[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12})$';
const MAC = '^[0-9A-Fa-f]{2}(?:[:-]?[0-9A-Fa-f]{2}){5}$';
const byteIndex = { type: 'integer', minimum: 0, maximum: MAX_ATTRIBUTE_BYTES - 1 } as const;
/** Milliseconds, as a number (YAML) or a numeric string (KubeEdge's DMI passes strings through). */
const millis = { anyOf: [{ type: 'integer', minimum: 1, maximum: 600_000 }, { type: 'string', pattern: '^[1-9][0-9]{0,5}$' }] } as const;

export const PROTOCOL_CONFIG_SCHEMA = {
  type: 'object',
  // Unknown keys are errors: they catch `macAdress` and v1alpha2 leftovers.
  additionalProperties: false,
  // Each branch names its property again so the schema also compiles under ajv's strictRequired.
  anyOf: [
    { required: ['macAddress'], properties: { macAddress: { type: 'string' } } },
    { required: ['localName'], properties: { localName: { type: 'string' } } },
  ],
  properties: {
    macAddress: { type: 'string', pattern: MAC },
    /** Matched against the advertised local name; used where the OS hides addresses (macOS). */
    localName: { type: 'string', minLength: 1, maxLength: 248 },
    scanTimeoutMs: millis,
    connectTimeoutMs: millis,
    /** Per GATT request (read, write, subscribe) and for service discovery. */
    requestTimeoutMs: millis,
  },
} as const;

export const VISITOR_CONFIG_SCHEMA = {
  type: 'object',
  required: ['characteristicUUID'],
  additionalProperties: false,
  properties: {
    characteristicUUID: { type: 'string', pattern: UUID },
    /** Without it the characteristic is looked up in every service (first match wins). */
    serviceUUID: { type: 'string', pattern: UUID },
    dataType: { enum: BLE_DATA_TYPES },
    /** Byte offset of the field in the value (or in the startIndex..endIndex selection). */
    offset: byteIndex,
    scale: { type: 'number', not: { const: 0 } },
    /** Decode exactly as KubeEdge's mappers-go BLE mapper does (decimal-string concatenation). */
    kubeedgeCompat: { type: 'boolean' },
    dataConverter: {
      type: 'object',
      additionalProperties: false,
      properties: {
        startIndex: byteIndex,
        endIndex: byteIndex,
        shiftLeft: { type: 'integer', minimum: 0, maximum: 64 },
        shiftRight: { type: 'integer', minimum: 0, maximum: 64 },
        orderOfOperations: {
          type: 'array',
          items: {
            type: 'object',
            required: ['operationType', 'operationValue'],
            additionalProperties: false,
            properties: {
              operationType: { type: 'string', pattern: caseInsensitive(OPERATION_TYPES) },
              operationValue: { type: 'number' },
            },
          },
        },
      },
    },
    /** Value (its wire string) → the bytes to write, e.g. {"ON": [1], "OFF": [0]}. */
    dataWrite: {
      type: 'object',
      additionalProperties: { type: 'array', maxItems: MAX_ATTRIBUTE_BYTES, items: { type: 'integer', minimum: 0, maximum: 255 } },
    },
  },
} as const;

export type BleProtocolConfig = FromSchema<typeof PROTOCOL_CONFIG_SCHEMA>;
export type BleVisitorConfig = FromSchema<typeof VISITOR_CONFIG_SCHEMA>;
export type DataConverter = NonNullable<BleVisitorConfig['dataConverter']>;

export const DEFAULT_SCAN_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** Who to look for and how long to wait for each step. */
export interface BleTarget {
  /** Normalised (lower case, colons). */
  readonly address?: string;
  readonly localName?: string;
  readonly scanTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/** Where one property lives on the device. */
export interface BleLocation {
  /** Normalised service UUID, or undefined for "any service". */
  readonly service?: string;
  /** Normalised characteristic UUID. */
  readonly characteristic: string;
}

let validators: { protocol: ValidateFunction<BleProtocolConfig>; visitor: ValidateFunction<BleVisitorConfig> } | undefined;

// Built on first use. The runtime validates configData against the same schemas; validating here
// too keeps the driver and the simulator safe when they are handed a manifest directly.
function getValidators(): NonNullable<typeof validators> {
  if (!validators) {
    // allowUnionTypes: the timeouts take a number or a numeric string, as Modbus's port does.
    const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    validators = {
      protocol: ajv.compile<BleProtocolConfig>(PROTOCOL_CONFIG_SCHEMA),
      visitor: ajv.compile<BleVisitorConfig>(VISITOR_CONFIG_SCHEMA),
    };
  }
  return validators;
}


function millisOf(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === 'number' ? value : Number.parseInt(value, 10);
}

/** Validates and resolves `spec.protocol.configData` (unknown input). */
export function parseProtocolConfig(data: unknown): BleTarget {
  return resolveProtocolConfig(checkConfig(getValidators().protocol, data ?? {}, 'Bluetooth protocol configData'));
}

/** Resolves a validated `spec.protocol.configData` (addresses normalised, default timeouts). */
export function resolveProtocolConfig(config: BleProtocolConfig): BleTarget {
  return {
    ...(config.macAddress !== undefined ? { address: normalizeAddress(config.macAddress) } : {}),
    ...(config.localName !== undefined ? { localName: config.localName } : {}),
    scanTimeoutMs: millisOf(config.scanTimeoutMs, DEFAULT_SCAN_TIMEOUT_MS),
    connectTimeoutMs: millisOf(config.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    requestTimeoutMs: millisOf(config.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
  };
}

/** Validates one property's `visitors.configData` (unknown input). */
export function parseVisitorConfig(data: unknown, property: string): BleVisitorConfig {
  return checkConfig(getValidators().visitor, data, `Bluetooth property "${property}" visitor configData`);
}

export function locationOf(visitor: BleVisitorConfig): BleLocation {
  return {
    ...(visitor.serviceUUID !== undefined ? { service: normalizeUuid(visitor.serviceUUID) } : {}),
    characteristic: normalizeUuid(visitor.characteristicUUID),
  };
}

/** A map key for a characteristic: 'service/characteristic', or '*' for any service. */
export function locationKey(location: BleLocation): string {
  return `${location.service ?? '*'}/${location.characteristic}`;
}
