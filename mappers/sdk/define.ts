// defineMapper: a MapperFactory from a typed definition. The protocol and visitor config types
// are derived from their JSON Schemas (json-schema-to-ts `FromSchema`, as schemas/config.ts
// derives the config's), and each device's configs are validated once, when it is connected
// (ajv; EDGETWIN_ERR_MAPPER_CONFIG listing every problem): the definition's connect() and its
// driver get typed `device.protocol` and `property.visitor`, and never cast.

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { JsonSchema } from '../../schemas/index.js';
import type { DeviceDriver, DriverDevice, MapperContext, MapperFactory } from './types.js';
import { checkConfig } from './values.js';

/**
 * What a mapper author writes: the schemas `as const`, and connect() on typed configs. Pass the
 * schemas' types as the type arguments (`defineMapper<typeof P, typeof V>({...})`): inferring
 * them through FromSchema is more than the compiler will do.
 */
export interface MapperDefinition<PS extends JSONSchema, VS extends JSONSchema> {
  /** Matches `spec.protocol.protocolName` (and `visitors.protocolName`). */
  readonly protocol: string;
  readonly protocolConfigSchema: PS;
  readonly visitorConfigSchema: VS;
  /** Creates the driver for one device, whose configs are already valid. Must not do I/O. */
  connect(ctx: MapperContext, device: DriverDevice<FromSchema<NoInfer<PS>>, FromSchema<NoInfer<VS>>>): DeviceDriver<FromSchema<NoInfer<VS>>>;
}

// strict: false, like bindDevice's (mappers/sdk/config.ts): a plugin's schema may carry
// annotations of its own (`unit`, `x-...`).
const ajv = new Ajv2020({ allErrors: true, strict: false });

/**
 * A MapperFactory typed by its schemas, which the runtime, `edgetwin check` and plugin hosts use
 * as any other: bindDevice validates each device against the schemas (compiled once) and so
 * gives connect() and the driver the derived types.
 */
export function defineMapper<PS extends JSONSchema, VS extends JSONSchema>(definition: MapperDefinition<PS, VS>): MapperFactory<FromSchema<PS>, FromSchema<VS>>;
// The implementation sees the derived types as opaque (`unknown`): the compiler never expands
// FromSchema of a type parameter, and the overload above is what callers are checked against.
export function defineMapper(definition: TypedFactory<unknown, unknown, JSONSchema>): MapperFactory {
    return buildFactory({
    protocol: definition.protocol,
    // json-schema-to-ts's JSONSchema (for the types) is the same document as schemas/'s JsonSchema (for ajv).
    protocolConfigSchema: asJsonSchema(definition.protocolConfigSchema),
    visitorConfigSchema: asJsonSchema(definition.visitorConfigSchema),
    connect: (ctx, device) => definition.connect(ctx, device),
  });
}

interface TypedFactory<P, V, S = JsonSchema> {
  readonly protocol: string;
  readonly protocolConfigSchema: S;
  readonly visitorConfigSchema: S;
  connect(ctx: MapperContext, device: DriverDevice<P, V>): DeviceDriver<V>;
}

function buildFactory<P, V>(definition: TypedFactory<P, V>): MapperFactory<P, V> {
  let validators: { protocol: ValidateFunction<P>; visitor: ValidateFunction<V> } | undefined;
  const compiled = (): NonNullable<typeof validators> =>
    (validators ??= { protocol: ajv.compile<P>(definition.protocolConfigSchema), visitor: ajv.compile<V>(definition.visitorConfigSchema) });
  const label = `the ${definition.protocol} mapper's`;
  return {
    protocol: definition.protocol,
    protocolConfigSchema: definition.protocolConfigSchema,
    visitorConfigSchema: definition.visitorConfigSchema,
    connect(ctx, device) {
      const v = compiled();
      // bindDevice (config.ts) checked the same schemas when it built `device`; a device built
      // by hand (a test, a tool) is checked here, the same way (EDGETWIN_ERR_MAPPER_CONFIG).
      checkConfig(v.protocol, device.protocol, `device ${device.id}: ${label} protocol configData`);
      for (const p of device.properties) checkConfig(v.visitor, p.visitor, `device ${device.id}: ${label} visitor configData of property "${p.name}"`);
      // The property objects are the runtime's own: a driver may key its per-property state on them.
      return definition.connect(ctx, device);
    },
  };
}

function asJsonSchema(schema: JSONSchema): JsonSchema {
  return typeof schema === 'boolean' ? (schema ? {} : { not: {} }) : schema;
}
