// Durations and sizes as people write them in the config, on the command line and in queries:
// `90s`, `15m`, `24h`, `7d`, `2w`, `500ms`; `256MiB`, `1GB`, or a plain number (ms, bytes).

const DURATION_RE = /^(\d{1,12})(ms|s|m|h|d|w)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

const SIZE_RE = /^(\d{1,15})(B|kB|KB|KiB|MB|MiB|GB|GiB)?$/;
const UNIT_BYTES: Readonly<Record<string, number>> = { B: 1, kB: 1e3, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 2 ** 20, GB: 1e9, GiB: 2 ** 30 };

/** The pattern a duration string matches (config schema). */
export const DURATION_PATTERN = DURATION_RE.source;
/** The pattern a size string matches (config schema). */
export const SIZE_PATTERN = SIZE_RE.source;

/** `15m` → 900000; a non-negative integer is ms already. Undefined if it is neither. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** `256MiB` → 268435456; a non-negative integer is bytes already. Undefined if it is neither. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * (UNIT_BYTES[m[2] ?? 'B'] ?? 0);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 900000 → `15m`, 5400000 → `90m`, 1500 → `1500ms`: the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
