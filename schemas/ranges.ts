// A property schema that is valid JSON Schema can still admit no value at all (`minimum: 35,
// maximum: 5`), or list values it refuses itself (an enum member over `maximum`, a `default`
// too long for `maxLength`). JSON Schema allows both (2020-12 validation §6.2, §6.3 put no
// constraint between keywords), but in a device model each is a mistake that would only show
// up as every write being refused: compileModel reports them with a JSON pointer instead.

import type { ErrorDetail } from '../errors.js';
import { showValue, type ValidateFunction } from './ajv.js';
import type { JsonSchema } from './types.js';

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

interface Bound {
  readonly keyword: 'minimum' | 'exclusiveMinimum' | 'maximum' | 'exclusiveMaximum';
  readonly value: number;
  readonly exclusive: boolean;
}

function bound(schema: JsonSchema, keyword: Bound['keyword']): Bound | undefined {
  const value = num(schema[keyword]);
  return value === undefined ? undefined : { keyword, value, exclusive: keyword.startsWith('exclusive') };
}

/** Every lower/upper pair that leaves no number between them. */
function numericProblems(schema: JsonSchema, at: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const lows = [bound(schema, 'minimum'), bound(schema, 'exclusiveMinimum')].filter((b) => b !== undefined);
  const highs = [bound(schema, 'maximum'), bound(schema, 'exclusiveMaximum')].filter((b) => b !== undefined);
  for (const lo of lows) {
    for (const hi of highs) {
      const empty = lo.exclusive || hi.exclusive ? lo.value >= hi.value : lo.value > hi.value;
      if (!empty) continue;
      const relation = lo.value > hi.value ? 'is greater than' : 'equals';
      problems.push({ path: `${at}/${lo.keyword}`, message: `${lo.keyword} ${lo.value} ${relation} ${hi.keyword} ${hi.value}: no value is allowed` });
    }
  }
  if (problems.length === 0 && schema.type === 'integer') {
    // e.g. minimum 1.2, maximum 1.8: numbers fit, integers do not.
    const lo = lows.reduce((m, b) => Math.max(m, b.exclusive ? Math.floor(b.value) + 1 : Math.ceil(b.value)), -Infinity);
    const hi = highs.reduce((m, b) => Math.min(m, b.exclusive ? Math.ceil(b.value) - 1 : Math.floor(b.value)), Infinity);
    if (lo > hi) problems.push({ path: `${at}/${lows[0]?.keyword ?? 'minimum'}`, message: `no integer lies between the bounds (${lo - 1} < x < ${hi + 1})` });
  }
  return problems;
}

function lengthProblems(schema: JsonSchema, at: string): ErrorDetail[] {
  const min = num(schema.minLength);
  const max = num(schema.maxLength);
  return min !== undefined && max !== undefined && min > max
    ? [{ path: `${at}/minLength`, message: `minLength ${min} is greater than maxLength ${max}: no value is allowed` }]
    : [];
}

function firstError(validate: ValidateFunction): string {
  const error = validate.errors?.[0];
  return error?.message ?? (error ? `fails "${error.keyword}"` : 'fails the schema');
}

/**
 * What makes `schema` (one property, already compiled to `validate`) refuse values it names
 * or every value: empty numeric or length ranges first; when the ranges are sound, each `enum`
 * member, `const`, `default` and `examples` entry that fails the property's own schema.
 */
export function rangeProblems(schema: JsonSchema, at: string, validate: ValidateFunction): ErrorDetail[] {
  const empty = [...numericProblems(schema, at), ...lengthProblems(schema, at)];
  if (empty.length > 0) return empty;
  const problems: ErrorDetail[] = [];
  const check = (value: unknown, pointer: string, what: string): void => {
    if (!validate(value)) problems.push({ path: pointer, message: `${what} ${showValue(value)} is not allowed by the property itself: ${firstError(validate)}` });
  };
  if (Array.isArray(schema.enum)) schema.enum.forEach((v, i) => check(v, `${at}/enum/${i}`, 'enum value'));
  if ('const' in schema) check(schema.const, `${at}/const`, 'const');
  if ('default' in schema) check(schema.default, `${at}/default`, 'default');
  if (Array.isArray(schema.examples)) schema.examples.forEach((v, i) => check(v, `${at}/examples/${i}`, 'example'));
  return problems;
}
