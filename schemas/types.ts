// The public shapes of device models (JSON Schema) and device instances (KubeEdge v1beta1
// Device manifests) as the rest of edgetwin sees them once loaded and compiled.

import type { PushMethod } from './push-method.js';
import type { ErrorCode, ErrorDetail } from '../errors.js';

/**
 * KubeEdge's value types as they appear in `metadata.type` on the wire and in DeviceModel
 * `spec.properties[].type` (lower-cased). Derived from the JSON Schema of a property:
 * integer→int, number→float (double with `"format": "double"`), boolean, string,
 * string with `contentEncoding: base64`→bytes.
 */
export type KubeType = 'int' | 'float' | 'double' | 'boolean' | 'string' | 'bytes';

/** A property value once parsed from its wire string. bytes are a Uint8Array. */
export type PropertyValue = number | boolean | string | Uint8Array;

export type ParseResult =
  | { readonly ok: true; readonly value: PropertyValue; /** canonical wire form, e.g. "1e1" → "10" */ readonly wire: string }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** A JSON Schema object as loaded from a file; `unknown` values, checked by ajv. */
export type JsonSchema = { readonly [key: string]: unknown };

export interface PropertyModel {
  readonly name: string;
  readonly type: KubeType;
  readonly readOnly: boolean;
  readonly unit?: string;
  readonly description?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  /** The property's own subschema, as written in the model. */
  readonly schema: JsonSchema;
  /** Parses a wire string to the property's type and validates it against its subschema (compiled once). */
  parse(wire: string): ParseResult;
  /** Validates an already-typed value (e.g. from a mapper) and gives its canonical wire string. */
  check(value: PropertyValue): ParseResult;
}

/** A model's default visitor for one property (KubeEdge ≥ 1.22 `spec.properties[].visitors`). */
export interface VisitorDefaults {
  readonly protocolName?: string;
  readonly configData: { readonly [key: string]: unknown };
}

/**
 * What a DeviceModel says about the protocol (KubeEdge ≥ 1.22): `spec.protocol`, the default
 * `spec.protocolConfigData` and per-property default `visitors`. In a JSON Schema model they are
 * the keywords `protocol`, `protocolConfigData` and (on a property) `visitors`. Merged into each
 * Device of the model, the Device's own values winning (schemas/defaults.ts).
 */
export interface ModelDefaults {
  readonly protocol?: string;
  readonly protocolConfigData?: { readonly [key: string]: unknown };
  readonly visitors: ReadonlyMap<string, VisitorDefaults>;
}

export interface DeviceModel {
  /** The model's `title`: a DNS-1123 name, as for a KubeEdge DeviceModel. */
  readonly name: string;
  readonly id?: string;
  readonly description?: string;
  readonly properties: ReadonlyMap<string, PropertyModel>;
  /** Protocol defaults for the model's Devices; absent when the model has none. */
  readonly defaults?: ModelDefaults;
  /** The whole model schema as loaded. */
  readonly schema: JsonSchema;
  /** The file it came from, if any. */
  readonly source?: string;
}

/** A `spec.protocol` or `visitors` block: a protocol name and mapper-defined flat config. */
export interface ProtocolConfig {
  readonly protocolName: string;
  readonly configData: { readonly [key: string]: unknown };
}

export interface PropertyInstance {
  readonly name: string;
  readonly desired?: { readonly value: string; readonly metadata?: { readonly [key: string]: string } };
  readonly visitors?: ProtocolConfig;
  /** Milliseconds; 0 or absent = 1000 (KubeEdge's meaning). */
  readonly collectCycle?: number;
  /** Milliseconds; 0 or absent = 1000 (KubeEdge's meaning). */
  readonly reportCycle?: number;
  readonly reportToCloud?: boolean;
  /** The push and database methods edgetwin serves for this property (schemas/push-method.ts). */
  readonly pushMethod?: PushMethod;
}

/** A device bound to this node, from a KubeEdge v1beta1 `Device` manifest. */
export interface DeviceInstance {
  readonly namespace: string;
  readonly name: string;
  /** `<namespace>/<name>` */
  readonly id: string;
  /** The model's name (`spec.deviceModelRef.name`). */
  readonly model: string;
  readonly nodeName?: string;
  readonly description?: string;
  readonly labels?: { readonly [key: string]: string };
  readonly protocol?: ProtocolConfig;
  readonly properties: readonly PropertyInstance[];
  /**
   * `spec.stateReport` (KubeEdge ≥ 1.23; before, `status.reportToCloud`/`reportCycle`): whether
   * and how often (ms) a mapper reports the device's state. KubeEdge's DMI carries it to mappers.
   */
  readonly stateReport?: { readonly reportToCloud?: boolean; readonly reportCycle?: number };
  /** Where the manifest came from: a file path, or `cluster`. */
  readonly source?: string;
  /**
   * Fields the manifest sets that edgetwin does not implement (pushMethod, dbMethod, methods,
   * stateReport, anomalyDetection): each a coded detail naming the field, logged when the
   * device is loaded. The device itself loads and is served.
   */
  readonly warnings?: readonly ErrorDetail[];
}
