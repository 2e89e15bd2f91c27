// A small reference model of the twin semantics of docs/mqtt-api.md, written from the document
// and not from devicetwin/: what a thermostat's twins are after each message, and why a message
// is refused. Values carry their own verdict (the generators in property.test.ts know whether
// "2.1e1" is a valid setpoint and what it becomes), so the model needs no parser of its own.

import fc from 'fast-check';

export type Code =
  | 'EDGETWIN_ERR_PROPERTY_UNKNOWN'
  | 'EDGETWIN_ERR_PROPERTY_READ_ONLY'
  | 'EDGETWIN_ERR_VALUE_TYPE'
  | 'EDGETWIN_ERR_MODEL_VALIDATION'
  | 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT';

/** A wire value and its fate: the canonical value it becomes, or the code that refuses it. */
export type Wire = { readonly wire: string; readonly canon: string } | { readonly wire: string; readonly refused: Code };

export interface Patch {
  readonly expected?: Wire;
  readonly actual?: Wire;
  readonly optional?: boolean;
}

/** The thermostat model's properties, and one name it does not have. */
export const KEYS = ['temperature', 'setpoint', 'mode', 'power', 'humidity'] as const;
export type Key = (typeof KEYS)[number];

export interface Twin {
  readonly expected?: string;
  readonly actual?: string;
  readonly optional: boolean;
}

export class ThermostatModel {
  version = 0;
  /** Live twins only: a deleted twin is absent, as `twin/get` shows it. */
  readonly twins = new Map<string, Twin>();

  /** Applies an update all or nothing; returns the refusal's code, or undefined if accepted. */
  update(entries: ReadonlyArray<readonly [Key, Patch | null]>, version?: number): Code | undefined {
    // Refusals, in the order the document gives: version, then each key in message order.
    if (version !== undefined && version !== this.version) return 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT';
    for (const [key, patch] of entries) {
      if (key === 'humidity') return 'EDGETWIN_ERR_PROPERTY_UNKNOWN';
      if (patch === null) continue;
      if (patch.expected && key === 'temperature') return 'EDGETWIN_ERR_PROPERTY_READ_ONLY';
      for (const w of [patch.expected, patch.actual]) if (w && 'refused' in w) return w.refused;
    }
    let changed = false;
    for (const [key, patch] of entries) {
      const twin = this.twins.get(key);
      if (patch === null) {
        // Only an optional twin can be deleted; deleting a required or absent one does nothing.
        if (twin?.optional) {
          this.twins.delete(key);
          changed = true;
        }
        continue;
      }
      let next: Twin = twin ?? { optional: true };
      const expected = patch.expected && 'canon' in patch.expected ? patch.expected.canon : undefined;
      const actual = patch.actual && 'canon' in patch.actual ? patch.actual.canon : undefined;
      if (expected !== undefined && expected !== next.expected) next = { ...next, expected };
      if (actual !== undefined && actual !== next.actual) next = { ...next, actual };
      // `optional` only ever goes from true to false.
      if (patch.optional === false && next.optional) next = { ...next, optional: false };
      if (next !== twin) {
        this.twins.set(key, next);
        changed = true;
      }
    }
    // A message that changes nothing is answered but does not advance the version.
    if (changed) this.version++;
    return undefined;
  }
}

// Generators of wire values, each with its verdict.

const ok = (wire: string, canon: string): Wire => ({ wire, canon });
const bad = (wire: string, refused: Code): Wire => ({ wire, refused });

/** Mostly valid values, sometimes not: so that sequences both change twins and get refused. */
function mostly(valid: fc.Arbitrary<Wire>, invalid: fc.Arbitrary<Wire>): fc.Arbitrary<Wire> {
  return fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: invalid });
}

/** Numbers in [min, max], written the ways a mapper might (all mean the same number). */
function numberIn(min: number, max: number): fc.Arbitrary<Wire> {
  const tenths = fc.integer({ min: min * 10, max: max * 10 });
  const valid = fc.oneof(
    fc.integer({ min, max }).map((n) => ok(String(n), String(n))),
    fc.integer({ min, max }).map((n) => ok(`${n}.0`, String(n))),
    fc.integer({ min, max }).map((n) => ok(` ${n} `, String(n))),
    fc.integer({ min: Math.max(0, min), max }).map((n) => ok(`+${n}`, String(n))),
    fc.integer({ min: Math.ceil(min / 10), max: Math.floor(max / 10) }).map((n) => ok(`${n}e1`, String(n * 10))),
    tenths.map((t) => ok((t / 10).toFixed(1), String(t / 10))),
  );
  const invalid = fc.oneof(
    fc.integer({ min: max + 1, max: max + 1000 }).map((n) => bad(String(n), 'EDGETWIN_ERR_MODEL_VALIDATION')),
    fc.integer({ min: min - 1000, max: min - 1 }).map((n) => bad(String(n), 'EDGETWIN_ERR_MODEL_VALIDATION')),
    fc.constantFrom('abc', '', '0x10', 'NaN', '1e999', '--1', '2,5').map((w) => bad(w, 'EDGETWIN_ERR_VALUE_TYPE')),
  );
  return mostly(valid, invalid);
}

const mode: fc.Arbitrary<Wire> = mostly(
  fc.constantFrom('off', 'heat', 'cool').map((m) => ok(m, m)),
  fc.constantFrom('warm', 'OFF', '', 'heat ').map((m) => bad(m, 'EDGETWIN_ERR_MODEL_VALIDATION')),
);

const power: fc.Arbitrary<Wire> = mostly(
  fc.oneof(fc.constantFrom('true', 'false').map((b) => ok(b, b)), fc.constantFrom('TRUE', 'False').map((b) => ok(b, b.toLowerCase()))),
  fc.constantFrom('yes', '1', '', 'on').map((b) => bad(b, 'EDGETWIN_ERR_VALUE_TYPE')),
);

export const VALUES: Readonly<Record<Key, fc.Arbitrary<Wire>>> = {
  temperature: numberIn(-40, 125),
  setpoint: numberIn(5, 35),
  mode,
  power,
  humidity: numberIn(0, 100),
};

const sometimes = <T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 10 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb });

/**
 * A patch for `key` (null deletes): an expected and/or an actual value, sometimes `optional`.
 * A desired temperature is rare: the property is readOnly, so it always refuses the message.
 */
export function patchFor(key: Key): fc.Arbitrary<Patch | null> {
  const v = VALUES[key];
  const patch = fc
    .record({ expected: sometimes(v, key === 'temperature' ? 1 : 5), actual: sometimes(v, 5), optional: sometimes(fc.boolean(), 3) })
    .map((p): Patch => ({
      ...(p.expected ? { expected: p.expected } : {}),
      ...(p.actual ? { actual: p.actual } : {}),
      ...(p.optional !== undefined ? { optional: p.optional } : {}),
    }));
  return fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 6, arbitrary: patch });
}

/** The keys of one update: one to four properties, the model's name-less `humidity` rarely. */
export const updateKeys: fc.Arbitrary<Key[]> = fc.uniqueArray(
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom<Key>('temperature', 'setpoint', 'mode', 'power') }, { weight: 1, arbitrary: fc.constant<Key>('humidity') }),
  { minLength: 1, maxLength: 4 },
);

/** The twin/update payload for a patch list (what an app or mapper sends). */
export function updatePayload(eventId: string, entries: ReadonlyArray<readonly [Key, Patch | null]>, version?: number): string {
  const twin: Record<string, unknown> = {};
  for (const [key, p] of entries) {
    twin[key] =
      p === null
        ? null
        : {
            ...(p.expected ? { expected: { value: p.expected.wire } } : {}),
            ...(p.actual ? { actual: { value: p.actual.wire } } : {}),
            ...(p.optional !== undefined ? { optional: p.optional } : {}),
          };
  }
  return JSON.stringify({ event_id: eventId, timestamp: 0, twin, ...(version !== undefined ? { version } : {}) });
}
