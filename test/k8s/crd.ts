// A CustomResourceDefinition as the test API server uses it: names, scope, subresources, and
// its openAPIV3Schema turned into an ajv validator. Unknown fields are rejected (as
// `fieldValidation=Strict` does) rather than silently pruned, so a field the CRD lacks is a
// test failure instead of data that vanishes in a real cluster.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

// From source (test/k8s) or compiled for the benchmark (dist/test/k8s): the repo's cloudsync/crds.
export const VENDORED_CRDS = [path.resolve(import.meta.dirname, '..', '..', 'cloudsync', 'crds'), path.resolve(import.meta.dirname, '..', '..', '..', 'cloudsync', 'crds')].find((d) =>
  existsSync(path.join(d, 'devices_v1beta1_device.yaml')),
) ?? path.resolve(import.meta.dirname, '..', '..', 'cloudsync', 'crds');
export const SHARED_CRDS = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'reference', 'kubeedge-crds');

export interface Crd {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly statusSubresource: boolean;
  readonly file: string;
  validate(obj: unknown): Array<{ path: string; message: string }>;
}

type Schema = Record<string, unknown>;

/** openAPIV3Schema (structural, with x-kubernetes extensions) → a JSON Schema ajv runs. */
export function toJsonSchema(s: Schema, root = true): Schema {
  const out: Schema = {};
  if (typeof s.type === 'string') out.type = s.nullable === true ? [s.type, 'null'] : s.type;
  if (Array.isArray(s.enum)) out.enum = s.enum;
  if (Array.isArray(s.required)) out.required = s.required;
  for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems']) if (k in s) out[k] = s[k];
  if (s.items && typeof s.items === 'object') out.items = toJsonSchema(s.items as Schema, false);
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (s.properties && typeof s.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => [k, toJsonSchema(v, false)]));
    if (!preserve && s.additionalProperties === undefined) out.additionalProperties = false;
  }
  if (s.additionalProperties && typeof s.additionalProperties === 'object') out.additionalProperties = toJsonSchema(s.additionalProperties as Schema, false);
  // metadata is validated by the server itself (ObjectMeta), never by the CRD.
  if (root && out.properties) (out.properties as Schema).metadata = { type: 'object' };
  return out;
}

function describe(e: ErrorObject): { path: string; message: string } {
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
  return { path: e.instancePath, message: `${e.message ?? e.keyword}${extra}` };
}

export function loadCrd(file: string, version = 'v1beta1'): Crd {
  const doc = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Schema | null)
    .find((d) => d?.kind === 'CustomResourceDefinition');
  if (!doc) throw new Error(`${file}: no CustomResourceDefinition`);
  const spec = doc.spec as { group: string; scope: string; names: { plural: string; kind: string }; versions: Array<Schema & { name: string }> };
  const v = spec.versions.find((x) => x.name === version);
  if (!v) throw new Error(`${file}: no version ${version}`);
  const schema = (v.schema as { openAPIV3Schema: Schema }).openAPIV3Schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  const fn: ValidateFunction = ajv.compile(toJsonSchema(schema));
  return {
    group: spec.group,
    version,
    plural: spec.names.plural,
    kind: spec.names.kind,
    namespaced: spec.scope === 'Namespaced',
    statusSubresource: !!(v.subresources as Schema | undefined)?.status,
    file,
    validate: (obj) => (fn(obj) ? [] : (fn.errors ?? []).map(describe)),
  };
}

/** The CRDs of a layout, from the vendored copies (or another folder). */
export function loadCrds(layout: 'devicestatus' | 'device' = 'devicestatus', dir = VENDORED_CRDS): Crd[] {
  const device = layout === 'device' ? 'devices_v1beta1_device.v1.22.2-pre-split.yaml' : 'devices_v1beta1_device.yaml';
  const files = ['devices_v1beta1_devicemodel.yaml', device, ...(layout === 'devicestatus' ? ['devices_v1beta1_devicestatus.yaml'] : [])];
  return files.map((f) => loadCrd(path.join(dir, f)));
}
