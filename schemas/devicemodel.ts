// JSON Schema model ⇄ KubeEdge v1beta1 `DeviceModel` (reference/kubeedge-crds/
// devices_v1beta1_devicemodel.yaml). What both formats hold maps field to field (DESIGN.md
// "Device models are JSON Schema"): title ⇄ metadata.name, integer ⇄ INT, number ⇄ FLOAT,
// number+format double ⇄ DOUBLE, boolean ⇄ BOOLEAN, string ⇄ STRING, string+contentEncoding
// base64 ⇄ BYTES, readOnly ⇄ accessMode, minimum/maximum (numbers ⇄ the CRD's strings), unit,
// description. JSON Schema keywords a DeviceModel cannot hold (enum, pattern, $id, the model's
// description...) ride in one annotation so `to-crd` then `from-crd` gives the model back whole;
// the cluster's own fields win over that annotation where both say something.

import { edgetwinError, type ErrorDetail } from '../errors.js';
import { JSON_SCHEMA_2020_12 } from './models.js';
import { TWIN_KEY } from './names.js';
import { isDecimalNumber } from './values.js';
import type { JsonSchema } from './types.js';

export const DEVICEMODEL_API_VERSION = 'devices.kubeedge.io/v1beta1';
/** Holds, as compact JSON, the JSON Schema keywords a DeviceModel has no field for. */
export const SCHEMA_ANNOTATION = 'edgetwin.io/json-schema';

export type KubeModelType = 'INT' | 'FLOAT' | 'DOUBLE' | 'STRING' | 'BOOLEAN' | 'BYTES' | 'STREAM';

export interface KubeModelProperty {
  name: string;
  description?: string;
  type?: KubeModelType;
  accessMode?: 'ReadWrite' | 'ReadOnly';
  minimum?: string;
  maximum?: string;
  unit?: string;
  visitors?: { protocolName?: string; configData?: Record<string, unknown> };
}

/** A KubeEdge v1beta1 DeviceModel as edgetwin writes and reads it. */
export interface KubeDeviceModel {
  apiVersion: typeof DEVICEMODEL_API_VERSION;
  kind: 'DeviceModel';
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; [key: string]: unknown };
  spec: { protocol?: string; protocolConfigData?: Record<string, unknown>; properties?: KubeModelProperty[] };
}

/** Keys of a property subschema that map onto DeviceModel fields (everything else is "extra"). */
const PROPERTY_KEYS = new Set(['type', 'minimum', 'maximum', 'unit', 'description', 'readOnly', 'visitors']);
/** Keys of a model that map onto DeviceModel fields. */
const MODEL_KEYS = new Set(['$schema', 'title', 'type', 'properties', 'protocol', 'protocolConfigData']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kubeType(schema: JsonSchema): KubeModelType {
  switch (schema.type) {
    case 'integer':
      return 'INT';
    case 'number':
      return schema.format === 'double' ? 'DOUBLE' : 'FLOAT';
    case 'boolean':
      return 'BOOLEAN';
    default:
      return schema.contentEncoding === 'base64' ? 'BYTES' : 'STRING';
  }
}

/** The subschema keywords a KubeEdge type implies (the inverse of {@link kubeType}). */
function typeKeywords(type: KubeModelType): JsonSchema | undefined {
  switch (type) {
    case 'INT':
      return { type: 'integer' };
    case 'FLOAT':
      return { type: 'number' };
    case 'DOUBLE':
      return { type: 'number', format: 'double' };
    case 'BOOLEAN':
      return { type: 'boolean' };
    case 'STRING':
      return { type: 'string' };
    case 'BYTES':
      return { type: 'string', contentEncoding: 'base64' };
    case 'STREAM':
      return undefined; // video frames: no twin value (kubeedge-notes §5.5)
  }
}

/** Keywords implied by the type (format double, contentEncoding base64) are not extras. */
function isImplied(key: string, value: unknown, type: KubeModelType): boolean {
  return (key === 'format' && value === 'double' && type === 'DOUBLE') || (key === 'contentEncoding' && value === 'base64' && type === 'BYTES');
}

export interface ToDeviceModelOptions {
  readonly namespace?: string;
  /** `spec.protocol`: the protocol name of the mapper that serves devices of this model. */
  readonly protocol?: string;
}

/**
 * A JSON Schema model (as written; check it with compileModel first) → a DeviceModel manifest.
 * Numbers become the CRD's strings with JavaScript's shortest round-trip form ("21.5", "1e+21").
 */
export function toDeviceModel(schema: JsonSchema, opts: ToDeviceModelOptions = {}): KubeDeviceModel {
  const title = schema.title;
  if (typeof title !== 'string' || !isObject(schema.properties)) {
    throw edgetwinError('EDGETWIN_ERR_MODEL_INVALID', 'a model needs a title and properties to become a DeviceModel', [{ path: '', message: 'title and properties are required' }]);
  }
  const modelExtras: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) if (!MODEL_KEYS.has(key)) modelExtras[key] = value;
  // from-crd writes `additionalProperties: false` itself; twins only ever hold declared
  // properties, so a model without it means the same in edgetwin.
  if (modelExtras.additionalProperties === false) delete modelExtras.additionalProperties;
  const propertyExtras: Record<string, Record<string, unknown>> = {};
  const properties: KubeModelProperty[] = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    const sub = raw as JsonSchema;
    const type = kubeType(sub);
    const prop: KubeModelProperty = { name };
    if (typeof sub.description === 'string') prop.description = sub.description;
    prop.type = type;
    prop.accessMode = sub.readOnly === true ? 'ReadOnly' : 'ReadWrite';
    if (typeof sub.minimum === 'number') prop.minimum = String(sub.minimum);
    if (typeof sub.maximum === 'number') prop.maximum = String(sub.maximum);
    if (typeof sub.unit === 'string') prop.unit = sub.unit;
    if (isObject(sub.visitors)) prop.visitors = sub.visitors;
    properties.push(prop);
    const extras: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(sub)) {
      if (!PROPERTY_KEYS.has(key) && !isImplied(key, value, type)) extras[key] = value;
    }
    // readOnly: false says nothing accessMode does not; keep it only so the round trip is exact.
    if (sub.readOnly === false) extras.readOnly = false;
    if (Object.keys(extras).length > 0) propertyExtras[name] = extras;
  }
  if (Object.keys(propertyExtras).length > 0) modelExtras.properties = propertyExtras;
  const annotations = Object.keys(modelExtras).length > 0 ? { [SCHEMA_ANNOTATION]: JSON.stringify(modelExtras) } : undefined;
  // An explicit --protocol wins over the model's own `protocol` keyword.
  const protocol = opts.protocol ?? (typeof schema.protocol === 'string' ? schema.protocol : undefined);
  return {
    apiVersion: DEVICEMODEL_API_VERSION,
    kind: 'DeviceModel',
    metadata: { name: title, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), ...(annotations ? { annotations } : {}) },
    spec: {
      ...(protocol !== undefined ? { protocol } : {}),
      ...(isObject(schema.protocolConfigData) ? { protocolConfigData: schema.protocolConfigData } : {}),
      properties,
    },
  };
}

export interface FromDeviceModelResult {
  /** An edgetwin model (JSON Schema 2020-12); compile it with compileModel. */
  readonly schema: JsonSchema;
  /** What the DeviceModel says that a JSON Schema model cannot hold (STREAM properties, bounds of a non-number). */
  readonly dropped: readonly ErrorDetail[];
}

function invalid(where: string, details: readonly ErrorDetail[]): never {
  const text = details.map((d) => `${d.path ?? ''}: ${d.message}`).join('; ');
  throw edgetwinError('EDGETWIN_ERR_DEVICEMODEL_INVALID', `DeviceModel ${where} cannot be converted: ${text}`, details);
}

function parseBound(value: unknown, at: string, problems: ErrorDetail[]): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'string' && isDecimalNumber(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) {
    problems.push({ path: at, message: `${JSON.stringify(value)} is not a decimal number` });
    return undefined;
  }
  return n;
}

function readExtras(metadata: Record<string, unknown>, where: string): Record<string, unknown> {
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const text = annotations[SCHEMA_ANNOTATION];
  if (typeof text !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return parsed;
  } catch {
    // reported below
  }
  return invalid(where, [{ path: `/metadata/annotations/${SCHEMA_ANNOTATION.replace('/', '~1')}`, message: 'is not a JSON object' }]);
}

/**
 * A DeviceModel object (from a file or the cluster) → an edgetwin JSON Schema model. Throws
 * EDGETWIN_ERR_DEVICEMODEL_INVALID listing every problem (wrong kind, a property without a name
 * or a type, a minimum that is not a number, a property name a twin key cannot be).
 */
export function fromDeviceModel(obj: unknown, source?: string): FromDeviceModelResult {
  const name = isObject(obj) && isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : undefined;
  const where = source ?? (name !== undefined ? `"${name}"` : '(inline)');
  if (!isObject(obj) || obj.kind !== 'DeviceModel' || !isObject(obj.metadata) || name === undefined) {
    invalid(where, [{ path: '', message: 'must be a DeviceModel with metadata.name' }]);
  }
  const spec = isObject(obj.spec) ? obj.spec : {};
  const extras = readExtras(obj.metadata, where);
  const propertyExtras = isObject(extras.properties) ? extras.properties : {};
  const problems: ErrorDetail[] = [];
  const dropped: ErrorDetail[] = [];
  // KubeEdge ≥ 1.22 protocol defaults ride in the model's own keywords (schemas/defaults.ts
  // merges them into each Device); their shapes are checked when the model is compiled.
  const protocolKeys: Record<string, unknown> = {};
  if (typeof spec.protocol === 'string' && spec.protocol !== '') protocolKeys.protocol = spec.protocol;
  if (spec.protocolConfigData !== undefined && spec.protocolConfigData !== null) protocolKeys.protocolConfigData = spec.protocolConfigData;
  const properties: Record<string, JsonSchema> = {};
  const list = Array.isArray(spec.properties) ? (spec.properties as unknown[]) : [];
  list.forEach((raw, i) => {
    const at = `/spec/properties/${i}`;
    if (!isObject(raw) || typeof raw.name !== 'string' || !new RegExp(TWIN_KEY).test(raw.name)) {
      problems.push({ path: `${at}/name`, message: 'must be a twin key (^[a-zA-Z0-9-_.,:/@#]{1,128}$)' });
      return;
    }
    const type = typeof raw.type === 'string' ? (raw.type.toUpperCase() as KubeModelType) : undefined;
    const implied = type ? typeKeywords(type) : undefined;
    if (type === 'STREAM') {
      dropped.push({ path: at, message: `property "${raw.name}" is a STREAM: it has no twin value` });
      return;
    }
    if (!implied) {
      problems.push({ path: `${at}/type`, message: 'must be one of INT, FLOAT, DOUBLE, STRING, BOOLEAN, BYTES' });
      return;
    }
    const extra = isObject(propertyExtras[raw.name]) ? (propertyExtras[raw.name] as Record<string, unknown>) : {};
    // The annotation adds keywords; the DeviceModel's own fields decide type, bounds and access.
    const sub: Record<string, unknown> = { ...extra, ...implied };
    // A type changed in the cluster (DOUBLE → FLOAT, BYTES → STRING) drops what the old one implied.
    if (implied.format === undefined && sub.format === 'double') delete sub.format;
    if (implied.contentEncoding === undefined && sub.contentEncoding === 'base64') delete sub.contentEncoding;
    const numeric = implied.type === 'integer' || implied.type === 'number';
    for (const bound of ['minimum', 'maximum'] as const) {
      const n = parseBound(raw[bound], `${at}/${bound}`, problems);
      if (n === undefined) delete sub[bound];
      else if (numeric) sub[bound] = n;
      else dropped.push({ path: `${at}/${bound}`, message: `a ${bound} means nothing for a ${type} property` });
    }
    if (typeof raw.unit === 'string' && raw.unit !== '') sub.unit = raw.unit;
    else delete sub.unit;
    if (typeof raw.description === 'string' && raw.description !== '') sub.description = raw.description;
    else delete sub.description;
    if (raw.accessMode === 'ReadOnly') sub.readOnly = true;
    else if (extra.readOnly === false) sub.readOnly = false;
    else delete sub.readOnly;
    if (raw.visitors !== undefined && raw.visitors !== null) sub.visitors = raw.visitors;
    else delete sub.visitors;
    properties[raw.name] = sub;
  });
  if (problems.length > 0) invalid(where, problems);
  const { properties: _p, ...modelExtras } = extras;
  const schema: JsonSchema = {
    $schema: JSON_SCHEMA_2020_12,
    ...modelExtras,
    title: name,
    ...protocolKeys,
    type: 'object',
    properties,
    ...('additionalProperties' in modelExtras ? {} : { additionalProperties: false }),
  };
  return { schema: orderModel(schema), dropped };
}

/** Key order as edgetwin's model files write it ($schema, $id, title, description, type...). */
function orderModel(schema: JsonSchema): JsonSchema {
  const order = ['$schema', '$id', 'title', 'description', 'protocol', 'protocolConfigData', 'type', 'properties'];
  const out: Record<string, unknown> = {};
  for (const key of order) if (key in schema) out[key] = schema[key];
  for (const [key, value] of Object.entries(schema)) if (!(key in out)) out[key] = value;
  return out;
}
