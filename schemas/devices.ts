// KubeEdge v1beta1 `Device` manifests → DeviceInstance, checked against the device's model.
// The manifest schema follows the Device CRD (reference/kubeedge-crds/devices_v1beta1_device.yaml)
// but is stricter where the CRD is free-form, so a file that loads here also `kubectl apply`s.

import type { FromSchema } from 'json-schema-to-ts';
import jsyaml from 'js-yaml';
import { parseAllDocuments } from 'yaml';
import { edgetwinError, isEdgetwinError, toEdgetwinError, type EdgetwinError, type ErrorCode, type ErrorDetail } from '../errors.js';
import { ajvErrorsToDetails, createAjv, joinDetails, type ValidateFunction } from './ajv.js';
import { listSourceFiles, MODEL_EXTENSIONS, readTextFile } from './files.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from './names.js';
import { applyModelDefaults } from './defaults.js';
import { suggestion } from './suggest.js';
import { parsePushMethod } from './push-method.js';
import type { DeviceInstance, DeviceModel, PropertyInstance, ProtocolConfig } from './types.js';

export const DEVICE_API_VERSION = 'devices.kubeedge.io/v1beta1';
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const freeObject = { type: 'object' } as const;
const cycle = { type: 'integer', minimum: 0 } as const;

export const DEVICE_MANIFEST_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: DEVICE_API_VERSION },
    kind: { const: 'Device' },
    // Objects read back from a cluster carry uid, resourceVersion, managedFields...: allowed.
    metadata: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', maxLength: 253, pattern: DNS1123_SUBDOMAIN },
        namespace: { type: 'string', maxLength: 63, pattern: DNS1123_LABEL },
        labels: stringMap,
        annotations: stringMap,
      },
    },
    // Unknown spec keys are errors: they catch typos and v1alpha2 leftovers (nodeSelector,
    // propertyVisitors, data), which v1beta1 silently drops (kubeedge-notes §3).
    spec: {
      type: 'object',
      required: ['deviceModelRef'],
      additionalProperties: false,
      properties: {
        deviceModelRef: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1 } },
        },
        nodeName: { type: 'string' },
        protocol: {
          type: 'object',
          required: ['protocolName'],
          additionalProperties: false,
          properties: {
            protocolName: { type: 'string', minLength: 1 },
            // Flat scalars: KubeEdge's DMI turns configData values into protobuf Any and fails
            // the whole device on a nested object or array (kubeedge-notes §5.4).
            configData: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
          },
        },
        properties: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1 },
              desired: {
                type: 'object',
                required: ['value'],
                additionalProperties: false,
                properties: { value: { type: 'string' }, metadata: stringMap },
              },
              // Visitor configData stays free-form: the BLE visitor's dataConverter is nested.
              visitors: {
                type: 'object',
                required: ['protocolName'],
                additionalProperties: false,
                properties: { protocolName: { type: 'string', minLength: 1 }, configData: freeObject },
              },
              collectCycle: cycle,
              reportCycle: cycle,
              reportToCloud: { type: 'boolean' },
              pushMethod: freeObject,
            },
          },
        },
        methods: { type: 'array' },
        stateReport: { type: 'object', properties: { reportToCloud: { type: 'boolean' }, reportCycle: cycle } },
      },
    },
    status: freeObject,
  },
} as const;

/** A Device manifest that passed {@link DEVICE_MANIFEST_SCHEMA}. */
export type DeviceManifest = FromSchema<typeof DEVICE_MANIFEST_SCHEMA>;
type ManifestProperty = NonNullable<DeviceManifest['spec']['properties']>[number];

let validateManifest: ValidateFunction<DeviceManifest> | undefined;

function manifestValidator(): ValidateFunction<DeviceManifest> {
  // Union types are intended (configData scalars); strict mode otherwise stays on.
  validateManifest ??= createAjv({ allErrors: true, allowUnionTypes: true }).compile<DeviceManifest>(DEVICE_MANIFEST_SCHEMA);
  return validateManifest;
}

/** Where a document came from, for messages: "devices/a.yaml (document 1)". */
function describe(source: string | undefined, index: number | undefined): string {
  const file = source ?? '(inline)';
  return index === undefined ? file : `${file} (document ${index})`;
}

function manifestError(code: ErrorCode, where: string, details: readonly ErrorDetail[]): EdgetwinError {
  return edgetwinError(code, `Device manifest ${where}: ${joinDetails(details)}`, details);
}

function v1alpha2Hint(obj: unknown): ErrorDetail[] {
  const apiVersion = (obj as { apiVersion?: unknown } | null)?.apiVersion;
  return apiVersion === 'devices.kubeedge.io/v1alpha2'
    ? [{ path: '/apiVersion', message: 'v1alpha2 Devices are not supported: KubeEdge has no conversion, rewrite it as v1beta1' }]
    : [];
}

/** The model-dependent checks of one `spec.properties[i]`; problems go to `problems`. */
function toPropertyInstance(
  prop: ManifestProperty,
  at: string,
  model: DeviceModel,
  problems: ErrorDetail[],
  warnings: ErrorDetail[],
): PropertyInstance | undefined {
  const propertyModel = model.properties.get(prop.name);
  if (!propertyModel) {
    const hint = suggestion(prop.name, model.properties.keys());
    problems.push({ path: `${at}/name`, code: 'EDGETWIN_ERR_PROPERTY_UNKNOWN', message: `property "${prop.name}" is not in model "${model.name}"${hint}` });
    return undefined;
  }
  // Go's encoding/json ignores omitempty on structs, so Devices written by Go clients carry
  // `desired: {value: ""}` on every property: treat an empty value as "no desired value".
  const desired = prop.desired !== undefined && prop.desired.value !== '' ? prop.desired : undefined;
  if (desired) {
    if (propertyModel.readOnly) {
      problems.push({ path: `${at}/desired/value`, code: 'EDGETWIN_ERR_PROPERTY_READ_ONLY', message: `property "${prop.name}" is readOnly and cannot have a desired value` });
      return undefined;
    }
    const parsed = propertyModel.parse(desired.value);
    if (!parsed.ok) {
      problems.push({ path: `${at}/desired/value`, code: parsed.code, message: parsed.message });
      return undefined;
    }
  }
  const push = prop.pushMethod ? parsePushMethod(prop.pushMethod, prop.name, `${at}/pushMethod`) : undefined;
  if (push) warnings.push(...push.warnings);
  const visitors: ProtocolConfig | undefined = prop.visitors
    ? { protocolName: prop.visitors.protocolName, configData: prop.visitors.configData ?? {} }
    : undefined;
  return {
    name: prop.name,
    ...(desired ? { desired: desired.metadata ? { value: desired.value, metadata: desired.metadata } : { value: desired.value } } : {}),
    ...(visitors ? { visitors } : {}),
    ...(prop.collectCycle !== undefined ? { collectCycle: prop.collectCycle } : {}),
    ...(prop.reportCycle !== undefined ? { reportCycle: prop.reportCycle } : {}),
    ...(prop.reportToCloud !== undefined ? { reportToCloud: prop.reportToCloud } : {}),
    ...(push?.method ? { pushMethod: push.method } : {}),
  };
}

/**
 * Checks one already-parsed Device object (from a file or from the cluster) against its model.
 * Throws an EdgetwinError naming `source` (and the document `index`) and the JSON pointer of every
 * problem: EDGETWIN_ERR_MANIFEST_INVALID for a bad shape, an unknown or readOnly property;
 * EDGETWIN_ERR_MODEL_UNKNOWN; or the value's own code when a desired value fails the model.
 */
export function parseDeviceManifest(
  obj: unknown,
  models: ReadonlyMap<string, DeviceModel>,
  source?: string,
  index?: number,
): DeviceInstance {
  const where = describe(source, index);
  const validate = manifestValidator();
  if (!validate(obj)) {
    throw manifestError('EDGETWIN_ERR_MANIFEST_INVALID', where, [...v1alpha2Hint(obj), ...ajvErrorsToDetails(validate.errors)]);
  }
  const { metadata, spec } = obj;
  const model = models.get(spec.deviceModelRef.name);
  if (!model) {
    throw manifestError('EDGETWIN_ERR_MODEL_UNKNOWN', where, [
      { path: '/spec/deviceModelRef/name', message: `model "${spec.deviceModelRef.name}" is not loaded${suggestion(spec.deviceModelRef.name, models.keys())}` },
    ]);
  }

  const problems: ErrorDetail[] = [];
  const properties: PropertyInstance[] = [];
  const pushWarnings: ErrorDetail[] = [];
  const seen = new Set<string>();
  (spec.properties ?? []).forEach((prop, i) => {
    const at = `/spec/properties/${i}`;
    if (seen.has(prop.name)) {
      problems.push({ path: `${at}/name`, code: 'EDGETWIN_ERR_MANIFEST_INVALID', message: `property "${prop.name}" is listed twice` });
      return;
    }
    seen.add(prop.name);
    const instance = toPropertyInstance(prop, at, model, problems, pushWarnings);
    if (instance) properties.push(instance);
  });
  if (problems.length > 0) {
    // One code for the document: the problems' own code when they agree (e.g. every failure is a
    // desired value out of range), otherwise the generic manifest code.
    const first = problems[0]?.code ?? 'EDGETWIN_ERR_MANIFEST_INVALID';
    const valueCodes: readonly ErrorCode[] = ['EDGETWIN_ERR_VALUE_TYPE', 'EDGETWIN_ERR_MODEL_VALIDATION'];
    const code = valueCodes.includes(first) && problems.every((p) => p.code === first) ? first : 'EDGETWIN_ERR_MANIFEST_INVALID';
    throw manifestError(code, where, problems);
  }

  const namespace = metadata.namespace ?? 'default';
  const description = metadata.annotations?.description ?? metadata.labels?.description;
  const warnings = [...pushWarnings, ...unsupportedFields(spec)];
  const instance: DeviceInstance = {
    namespace,
    name: metadata.name,
    id: `${namespace}/${metadata.name}`,
    model: model.name,
    ...(spec.nodeName !== undefined && spec.nodeName !== '' ? { nodeName: spec.nodeName } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(metadata.labels ? { labels: metadata.labels } : {}),
    ...(spec.protocol ? { protocol: { protocolName: spec.protocol.protocolName, configData: spec.protocol.configData ?? {} } } : {}),
    properties,
    ...stateReportOf(spec.stateReport, obj.status),
    ...(source !== undefined ? { source } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
  return applyModelDefaults(instance, model);
}

const UNSUPPORTED = 'EDGETWIN_ERR_DEVICE_FIELD_UNSUPPORTED' as const;

/**
 * The Device fields edgetwin accepts (so the same file still `kubectl apply`s) but does not act
 * on yet: device methods and the state report cadence (kubeedge-notes §3, §5.5); the push
 * methods it does not serve are warned about by schemas/push-method.ts. Never silently ignored:
 * each is a coded warning.
 */
function unsupportedFields(spec: DeviceManifest['spec']): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (spec.methods !== undefined && spec.methods.length > 0) {
    out.push({ path: '/spec/methods', code: UNSUPPORTED, message: 'methods are not implemented (no device method API): set desired values through the twin instead' });
  }
  if (spec.stateReport !== undefined) {
    out.push({ path: '/spec/stateReport', code: UNSUPPORTED, message: 'stateReport is not implemented: the device state is reported on every change, not on a cycle' });
  }
  return out;
}

/** spec.stateReport wins over the pre-1.23 `status.reportToCloud`/`reportCycle` (as edgecore's ConvertDevice). */
function stateReportOf(spec: DeviceManifest['spec']['stateReport'], status: DeviceManifest['status']): Pick<DeviceInstance, 'stateReport'> {
  const legacy = status as { reportToCloud?: unknown; reportCycle?: unknown } | undefined;
  const from = spec ?? (legacy && (typeof legacy.reportToCloud === 'boolean' || typeof legacy.reportCycle === 'number') ? legacy : undefined);
  if (!from) return {};
  const reportToCloud = typeof from.reportToCloud === 'boolean' ? from.reportToCloud : undefined;
  const reportCycle = typeof from.reportCycle === 'number' && Number.isInteger(from.reportCycle) && from.reportCycle >= 0 ? from.reportCycle : undefined;
  return {
    stateReport: { ...(reportToCloud !== undefined ? { reportToCloud } : {}), ...(reportCycle !== undefined ? { reportCycle } : {}) },
  };
}

function isOtherKind(doc: unknown): boolean {
  const kind = (doc as { kind?: unknown }).kind;
  return typeof kind === 'string' && kind !== 'Device';
}

/**
 * Loads every Device in `paths` (YAML files, one or many documents each, or folders of *.yaml,
 * *.yml, *.json). A bad document is reported in `errors` and skipped; the others load. Documents
 * of another kind (a DeviceModel beside its Devices) and empty documents are ignored. A second
 * device with a `<namespace>/<name>` already loaded is EDGETWIN_ERR_DEVICE_DUPLICATE; the first wins.
 */
export function loadDevices(
  paths: readonly string[],
  models: ReadonlyMap<string, DeviceModel>,
): { devices: DeviceInstance[]; errors: EdgetwinError[] } {
  const { files, errors } = listSourceFiles(paths, MODEL_EXTENSIONS);
  const devices: DeviceInstance[] = [];
  const byId = new Map<string, DeviceInstance>();
  for (const file of files) {
    let docs: Array<{ readonly obj: unknown } | { readonly errors: string[] }>;
    try {
      docs = parseManifestFile(readTextFile(file));
    } catch (err) {
      errors.push(isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_MANIFEST_INVALID'));
      continue;
    }
    docs.forEach((doc, index) => {
      if ('errors' in doc) {
        const details = doc.errors.map((message) => ({ path: '', message: `not valid YAML: ${message}` }));
        errors.push(manifestError('EDGETWIN_ERR_MANIFEST_INVALID', describe(file, index), details));
        return;
      }
      const obj = doc.obj;
      if (obj === null || obj === undefined || isOtherKind(obj)) return;
      try {
        const device = parseDeviceManifest(obj, models, file, index);
        const existing = byId.get(device.id);
        if (existing) {
          errors.push(
            manifestError('EDGETWIN_ERR_DEVICE_DUPLICATE', describe(file, index), [
              { path: '/metadata/name', message: `device "${device.id}" is already declared in ${existing.source ?? 'another manifest'}` },
            ]),
          );
          return;
        }
        byId.set(device.id, device);
        devices.push(device);
      } catch (err) {
        errors.push(isEdgetwinError(err) ? err : toEdgetwinError(err, 'EDGETWIN_ERR_MANIFEST_INVALID'));
      }
    });
  }
  return { devices, errors };
}

// YAML 1.2's core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution) for js-yaml, exactly
// as `yaml` resolves it by default: js-yaml's own CORE_SCHEMA also reads `1_000` as a number and
// `0b101` as binary, which `yaml` (and the spec) keep as strings.
const CORE_NULL = /^(?:~|null|Null|NULL)?$/;
const CORE_BOOL = /^(?:true|True|TRUE|false|False|FALSE)$/;
const CORE_INT = /^(?:[-+]?\d+|0o[0-7]+|0x[\dA-Fa-f]+)$/;
const CORE_FLOAT = /^(?:[-+]?(?:\.\d+|\d+(?:\.\d*)?)(?:[Ee][-+]?\d+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

const CORE_SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    new jsyaml.Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s: string) => CORE_NULL.test(s), construct: () => null }),
    new jsyaml.Type('tag:yaml.org,2002:bool', { kind: 'scalar', resolve: (s: string) => CORE_BOOL.test(s), construct: (s: string) => s.toLowerCase() === 'true' }),
    new jsyaml.Type('tag:yaml.org,2002:int', {
      kind: 'scalar',
      resolve: (s: string) => CORE_INT.test(s),
      construct: (s: string) => (s.startsWith('0o') ? Number.parseInt(s.slice(2), 8) : s.startsWith('0x') ? Number.parseInt(s.slice(2), 16) : Number(s)),
    }),
    new jsyaml.Type('tag:yaml.org,2002:float', {
      kind: 'scalar',
      resolve: (s: string) => CORE_FLOAT.test(s),
      construct: (s: string) => {
        const lower = s.toLowerCase();
        if (lower.endsWith('.nan')) return Number.NaN;
        if (lower.endsWith('.inf')) return s.startsWith('-') ? -Infinity : Infinity;
        return Number(s);
      },
    }),
  ],
});

/**
 * The documents of one manifest file. A file that parses cleanly goes through js-yaml, which
 * builds plain objects directly (6–14× faster than `yaml`'s document model on 20,000 Devices in
 * one file: what a first start of a large node spends its time on). Any error sends the file to
 * `yaml`, which isolates errors per document, so one broken Device is reported with its index and
 * its neighbours still load. Both read YAML 1.2's core schema (CORE_SCHEMA above): the same text
 * gives the same values (schemas/manifest-yaml.test.ts compares them).
 */
export function parseManifestFile(text: string): Array<{ readonly obj: unknown } | { readonly errors: string[] }> {
  try {
    const out: Array<{ readonly obj: unknown }> = [];
    jsyaml.loadAll(text, (obj) => out.push({ obj }), { schema: CORE_SCHEMA });
    return out;
  } catch {
    return parseAllDocuments(text).map((doc) => (doc.errors.length > 0 ? { errors: doc.errors.map((e) => e.message) } : { obj: doc.toJS() as unknown }));
  }
}
