// The one place that builds ajv instances and turns ajv errors into edgetwin ErrorDetails, so
// every schema check (models, manifests, config) reports problems the same way: a JSON pointer
// to the offending value and a short sentence.

import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsModule, { type FormatsPlugin } from 'ajv-formats';
import type { ErrorDetail } from '../errors.js';
import { PATTERN_DESCRIPTIONS } from './names.js';
import { suggestion } from './suggest.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the whole
// `module.exports`, whose `.default` is the plugin. Accept either shape.
const addFormats: FormatsPlugin =
  (formatsModule as unknown as { default?: FormatsPlugin }).default ?? (formatsModule as unknown as FormatsPlugin);

export type { ErrorObject, ValidateFunction };
export type Ajv = Ajv2020;

/**
 * An ajv for JSON Schema 2020-12 in strict mode, with the standard formats (ajv-formats also
 * defines `double`, used by models to ask for KubeEdge's DOUBLE) and edgetwin's `unit` keyword.
 */
export function createAjv(options: Options = {}): Ajv2020 {
  // verbose: errors carry their parentSchema, whose `properties` name the keys an unknown one
  // may be a typo of (ajvErrorToDetail's "did you mean"). It only adds references to errors.
  const ajv = new Ajv2020({ strict: true, verbose: true, ...options });
  addFormats(ajv);
  // `unit` is an annotation (DESIGN.md "Device models are JSON Schema"); declaring it keeps
  // strict mode on for every other unknown keyword, which is how typos like `units` get caught.
  ajv.addKeyword({ keyword: 'unit', schemaType: 'string' });
  // A DeviceModel's protocol defaults (KubeEdge ≥ 1.22), kept in the model so from-crd loses
  // nothing and every Device of the model gets them (schemas/defaults.ts). Shapes: MODEL_RULES.
  ajv.addKeyword({ keyword: 'protocol', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'protocolConfigData', schemaType: 'object' });
  ajv.addKeyword({ keyword: 'visitors', schemaType: 'object' });
  return ajv;
}

/** RFC 6901 escaping of one reference token. */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** How a pointer is shown in a message: the root pointer "" reads badly on its own. */
export function showPointer(pointer: string): string {
  return pointer === '' ? '(root)' : pointer;
}

function stringParam(params: Record<string, unknown>, key: string): string | undefined {
  const value = params[key];
  return typeof value === 'string' ? value : undefined;
}

/** A short rendering of a JSON value for messages; long values are cut. */
export function showValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

/** The keys an object schema declares (`properties`), for suggestions; none when unknown. */
function declaredKeys(schema: unknown): string[] {
  const props = (schema as { properties?: unknown } | undefined)?.properties;
  return typeof props === 'object' && props !== null ? Object.keys(props) : [];
}

/**
 * One ajv error → { path: JSON pointer of the offending value, message }. ajv reports a missing
 * or unknown key at the parent object; edgetwin points at the key itself, so "/title is required"
 * and "/spec/nodeSelector is not allowed" name the exact place.
 */
export function ajvErrorToDetail(error: ErrorObject): ErrorDetail {
  const params = error.params as Record<string, unknown>;
  const at = error.instancePath;
  switch (error.keyword) {
    case 'required': {
      const key = stringParam(params, 'missingProperty') ?? '';
      return { path: `${at}/${escapePointerToken(key)}`, message: 'is required' };
    }
    case 'additionalProperties': {
      const key = stringParam(params, 'additionalProperty') ?? '';
      return { path: `${at}/${escapePointerToken(key)}`, message: `is not an allowed key${suggestion(key, declaredKeys(error.parentSchema))}` };
    }
    case 'propertyNames': {
      const key = stringParam(params, 'propertyName') ?? '';
      return { path: `${at}/${escapePointerToken(key)}`, message: 'is not a valid key name' };
    }
    case 'pattern': {
      const described = PATTERN_DESCRIPTIONS.get(stringParam(params, 'pattern') ?? '');
      return { path: at, message: described ? `must be ${described}` : (error.message ?? 'must match its pattern') };
    }
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map(showValue).join(', ') : '';
      return { path: at, message: `must be one of ${allowed}` };
    }
    case 'const':
      return { path: at, message: `must be ${showValue(params.allowedValue)}` };
    default:
      return { path: at, message: error.message ?? `fails "${error.keyword}"` };
  }
}

/**
 * All of ajv's errors as details, minus the noise: the `if` and `propertyNames` wrappers repeat
 * an inner error, and `allErrors` can report the same pointer and sentence twice.
 */
export function ajvErrorsToDetails(errors: readonly ErrorObject[] | null | undefined): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  // A failed propertyNames first reports its inner failure (e.g. `pattern`), marked with
  // `propertyName` but pointing at the parent; its sentence is kept for the propertyNames error,
  // which points at the key itself.
  const nameProblems = new Map<string, string>();
  for (const error of errors ?? []) {
    if (error.keyword === 'if') continue;
    if (error.keyword !== 'propertyNames' && error.propertyName !== undefined) {
      nameProblems.set(error.propertyName, ajvErrorToDetail(error).message);
      continue;
    }
    let detail = ajvErrorToDetail(error);
    const nameProblem = nameProblems.get(stringParam(error.params as Record<string, unknown>, 'propertyName') ?? '');
    if (error.keyword === 'propertyNames' && nameProblem) detail = { ...detail, message: `is not a valid key name: ${nameProblem}` };
    const key = `${detail.path ?? ''}\u0000${detail.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    details.push(detail);
  }
  return details;
}

/** "…: /a must be x; /b is required" — every detail in one line, for the error's message. */
export function joinDetails(details: readonly ErrorDetail[]): string {
  return details.map((d) => `${showPointer(d.path ?? '')} ${d.message}`).join('; ');
}
