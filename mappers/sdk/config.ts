// Builds what a driver sees (DriverDevice) from a Device manifest and its model, validating
// `protocol.configData` and every `visitors.configData` against the factory's JSON Schemas
// (compiled once per factory). Keys the runtime owns are taken out of the visitor config first.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { edgetwinError, type ErrorDetail } from '../../errors.js';
import { suggestion, type DeviceInstance, type DeviceModel, type JsonSchema } from '../../schemas/index.js';
import type { DriverDevice, DriverProperty, MapperFactory } from './types.js';

/** Visitor keys the runtime reads itself (never passed to the driver). */
export interface RuntimePropertyOptions {
  /** Report a numeric change only when it exceeds this (absolute, in the property's unit). */
  readonly deadband?: number;
}

export const RUNTIME_VISITOR_KEYS = ['deadband'] as const;

const ajv = new Ajv2020({ allErrors: true, strict: false });
const compiled = new WeakMap<MapperFactory, { protocol: ValidateFunction; visitor: ValidateFunction }>();

function validators(factory: MapperFactory): { protocol: ValidateFunction; visitor: ValidateFunction } {
  let v = compiled.get(factory);
  if (!v) {
    v = { protocol: ajv.compile(factory.protocolConfigSchema), visitor: ajv.compile(factory.visitorConfigSchema) };
    compiled.set(factory, v);
  }
  return v;
}

/**
 * Compiles a factory's two schemas (once; bindDevice reuses them). Throws
 * EDGETWIN_ERR_MAPPER_CONFIG naming the schema that does not compile.
 */
export function compileFactorySchemas(factory: MapperFactory): void {
  if (compiled.has(factory)) return;
  const compile = (key: 'protocolConfigSchema' | 'visitorConfigSchema'): ValidateFunction => {
    try {
      return ajv.compile(factory[key]);
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `the ${factory.protocol} mapper's ${key} is not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}`, [{ path: `/factory/${key}`, message: 'does not compile' }]);
    }
  };
  compiled.set(factory, { protocol: compile('protocolConfigSchema'), visitor: compile('visitorConfigSchema') });
}

function details(prefix: string, errors: ErrorObject[] | null | undefined, schema: JsonSchema): ErrorDetail[] {
  return (errors ?? []).map((e) => {
    if (e.keyword !== 'additionalProperties') return { path: `${prefix}${e.instancePath}`, message: e.message ?? 'is invalid' };
    const key = String(e.params.additionalProperty);
    return { path: `${prefix}${e.instancePath}`, message: `unknown key "${key}"${suggestion(key, declaredKeys(schema) ?? [])}` };
  });
}

export interface BoundDevice<P = unknown, V = unknown> {
  readonly driverDevice: DriverDevice<P, V>;
  readonly options: ReadonlyMap<string, RuntimePropertyOptions>;
  /** Visitor keys the mapper does not know, taken out before validation (coded, to be logged). */
  readonly warnings: readonly ErrorDetail[];
}

/**
 * The top-level keys `schema` declares, when it refuses others (`additionalProperties: false`);
 * undefined when any key is allowed.
 */
function declaredKeys(schema: JsonSchema): ReadonlySet<string> | undefined {
  const props = schema.properties;
  if (schema.additionalProperties !== false || typeof props !== 'object' || props === null) return undefined;
  return new Set(Object.keys(props));
}

/** Throws EDGETWIN_ERR_MAPPER_CONFIG listing every problem. */
export function bindDevice<P = unknown, V = unknown>(factory: MapperFactory<P, V>, instance: DeviceInstance, model: DeviceModel): BoundDevice<P, V> {
  const v = validators(factory);
  const problems: ErrorDetail[] = [];
  const protocol = { ...(instance.protocol?.configData ?? {}) };
  if (!v.protocol(protocol)) problems.push(...details('/spec/protocol/configData', v.protocol.errors, factory.protocolConfigSchema));
  const properties: DriverProperty[] = [];
  const options = new Map<string, RuntimePropertyOptions>();
  const warnings: ErrorDetail[] = [];
  instance.properties.forEach((p, i) => {
    const propModel = model.properties.get(p.name);
    if (!propModel || !p.visitors) return; // no visitor: not polled by this mapper (an app may drive it)
    if (p.visitors.protocolName !== factory.protocol) {
      problems.push({ path: `/spec/properties/${i}/visitors/protocolName`, message: `is "${p.visitors.protocolName}", not "${factory.protocol}"` });
      return;
    }
    const visitor: Record<string, unknown> = { ...p.visitors.configData };
    const opts: { deadband?: number } = {};
    if (visitor.deadband !== undefined) {
      const d = Number(visitor.deadband);
      if (!Number.isFinite(d) || d < 0) problems.push({ path: `/spec/properties/${i}/visitors/configData/deadband`, message: 'must be a number >= 0' });
      else opts.deadband = d;
    }
    for (const key of RUNTIME_VISITOR_KEYS) delete visitor[key];
    // KubeEdge's visitor configData is free-form and each Go mapper decodes only the keys it
    // knows, ignoring the rest: kubeedge/examples' own Modbus Device carries `max` and `min`
    // (temperature-instance.yaml). Unknown keys are dropped with a coded warning, not refused.
    const known = declaredKeys(factory.visitorConfigSchema);
    for (const key of Object.keys(visitor)) {
      if (!known || known.has(key)) continue;
      warnings.push({
        path: `/spec/properties/${i}/visitors/configData/${key}`,
        code: 'EDGETWIN_ERR_VISITOR_KEY_UNKNOWN',
        message: `property "${p.name}": visitor key "${key}" means nothing to the ${factory.protocol} mapper; ignored${suggestion(key, known)}`,
      });
      delete visitor[key];
    }
    if (!v.visitor(visitor)) {
      problems.push(...details(`/spec/properties/${i}/visitors/configData`, v.visitor.errors, factory.visitorConfigSchema));
      return;
    }
    properties.push({ name: p.name, model: propModel, instance: p, visitor });
    options.set(p.name, opts);
  });
  if (problems.length > 0) {
    throw edgetwinError(
      'EDGETWIN_ERR_MAPPER_CONFIG',
      `device ${instance.id}: its configuration is not valid for the ${factory.protocol} mapper (${problems.map((p) => `${p.path} ${p.message}`).join('; ')})`,
      problems,
    );
  }
  // The one place configs get their types: P and V are derived from the very schemas just
  // checked (defineMapper, define.ts), so the validated values are P and V.
  const driverDevice = { id: instance.id, instance, model, protocol, properties } as DriverDevice as DriverDevice<P, V>;
  return { driverDevice, options, warnings };
}
