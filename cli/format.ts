// What the CLI prints for people: aligned tables, short ages, one line per twin change. Pure
// functions of the wire messages (devicetwin/wire.ts), so they are tested without a broker.
// Scripts get JSON instead (`--json`, or stdout not a terminal): see wantsJson.

import type { DeviceTwinDocument, DeviceTwinResult, MsgTwin, ResultMessage, TwinEvent, WireDevice } from '../devicetwin/index.js';

/** JSON unless asked otherwise: `--json` forces it, `--no-json` forbids it, else a terminal gets text. */
export function wantsJson(flag: boolean | undefined, stream: { readonly isTTY?: boolean } = process.stdout): boolean {
  return flag ?? stream.isTTY !== true;
}

/** "3s", "2m", "5h", "4d": the largest whole unit; "-" when unknown. Negative (clock skew) is "0s". */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

const MAX_CELL = 48;

/**
 * A value as a table cell: control characters escaped (a value is anything a client sent, and
 * must not move the terminal's cursor or change its colours), long values cut with "…".
 */
export function cell(value: string, max = MAX_CELL): string {
  const safe = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

/** Columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

function newest(twin: MsgTwin): number | undefined {
  const times = [twin.actual?.metadata?.timestamp, twin.expected?.metadata?.timestamp, twin.ack?.timestamp].filter((t): t is number => typeof t === 'number');
  return times.length > 0 ? Math.max(...times) : undefined;
}

function ackCell(twin: MsgTwin): string {
  if (!twin.ack) return '-';
  return twin.ack.code ? `${twin.ack.state} ${twin.ack.code}` : twin.ack.state;
}

/**
 * `twin get` on a terminal: property, reported (with the model's unit when edgetwin sent it),
 * desired, ack (state and code), and the age of the property's last change, measured against
 * the answer's own timestamp (the node's clock, so a skewed local clock does not matter).
 */
export function formatTwinTable(result: DeviceTwinResult): string {
  const rows = Object.entries(result.twin)
    .filter((e): e is [string, MsgTwin] => e[1] !== null)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, t]) => {
      const unit = result.units?.[name];
      const reported = t.actual?.value === undefined ? '-' : `${cell(t.actual.value)}${unit ? ` ${cell(unit)}` : ''}`;
      const desired = t.expected?.value === undefined || t.expected.value === '' ? '-' : cell(t.expected.value);
      const at = newest(t);
      return [cell(name), reported, desired, ackCell(t), formatAge(at === undefined ? undefined : result.timestamp - at)];
    });
  if (rows.length === 0) return 'no twins yet: no value reported or desired\n';
  return formatTable(['PROPERTY', 'REPORTED', 'DESIRED', 'ACK', 'AGE'], rows);
}

/** A desired value not met yet: what a delta would ask a mapper to write. */
export function isOpenDelta(t: MsgTwin): boolean {
  const want = t.expected?.value;
  return want !== undefined && want !== '' && t.actual?.value !== want;
}

export function isFailedAck(t: MsgTwin): boolean {
  return t.ack?.state === 'failed' || t.ack?.state === 'rejected';
}

/** One device of `edgetwin devices`, as printed (and as its JSON line). */
export interface DeviceSummary {
  readonly id: string;
  readonly protocol?: string;
  readonly model?: string;
  readonly state: string;
  /** ms since the epoch: the last online time or the newest reported value, whichever is later. */
  readonly lastSeen?: number;
  readonly openDeltas?: number;
  readonly failedAcks?: number;
  /** Why the twins could not be read (code), when they could not. */
  readonly error?: string;
}

/** Folds a membership entry and the device's twins (or the error reading them) into one summary. */
export function summarizeDevice(member: WireDevice, twins: DeviceTwinResult | { readonly code: string } | undefined): DeviceSummary {
  const id = member.id ?? member.name ?? '?';
  const online = member.last_online !== undefined ? Date.parse(member.last_online) : NaN;
  const base = {
    id,
    ...(member.protocol !== undefined ? { protocol: member.protocol } : {}),
    ...(member.model !== undefined ? { model: member.model } : {}),
    state: member.state ?? 'unknown',
  };
  if (twins === undefined || !('twin' in twins)) {
    return { ...base, ...(Number.isFinite(online) ? { lastSeen: online } : {}), ...(twins ? { error: twins.code } : {}) };
  }
  let reported = Number.isFinite(online) ? online : -Infinity;
  let openDeltas = 0;
  let failedAcks = 0;
  for (const t of Object.values(twins.twin)) {
    if (t === null) continue;
    const at = t.actual?.metadata?.timestamp;
    if (typeof at === 'number' && at > reported) reported = at;
    if (isOpenDelta(t)) openDeltas++;
    if (isFailedAck(t)) failedAcks++;
  }
  return { ...base, ...(Number.isFinite(reported) ? { lastSeen: reported } : {}), openDeltas, failedAcks };
}

/** `edgetwin devices` on a terminal; ages against `now` (the node's clock, from its answer). */
export function formatDeviceTable(devices: readonly DeviceSummary[], now: number): string {
  if (devices.length === 0) return 'no devices bound to this node\n';
  const count = (n: number | undefined, error: string | undefined): string => (error !== undefined ? '?' : String(n ?? 0));
  const rows = devices.map((d) => [
    cell(d.id),
    cell(d.protocol ?? '-'),
    cell(d.state),
    d.lastSeen === undefined ? 'never' : `${formatAge(now - d.lastSeen)} ago`,
    count(d.openDeltas, d.error),
    count(d.failedAcks, d.error),
  ]);
  return formatTable(['DEVICE', 'PROTOCOL', 'STATE', 'LAST SEEN', 'OPEN DELTAS', 'FAILED ACKS'], rows);
}

function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** What changed between two states of one twin, as `name=value`, `name desired=value`, `name ack=state`. */
function changes(name: string, last: MsgTwin | null, current: MsgTwin | null): string[] {
  const n = cell(name);
  if (current === null) return [`${n} deleted`];
  const out: string[] = [];
  if (current.actual?.value !== undefined && current.actual.value !== last?.actual?.value) out.push(`${n}=${cell(current.actual.value)}`);
  if (current.expected?.value !== undefined && (current.expected.value !== last?.expected?.value || current.expected.metadata?.timestamp !== last?.expected?.metadata?.timestamp)) {
    out.push(`${n} desired=${cell(current.expected.value)}`);
  }
  const ack = current.ack;
  if (ack && (ack.state !== last?.ack?.state || ack.code !== last?.ack?.code || ack.timestamp !== last?.ack?.timestamp)) {
    out.push(`${n} ack=${ack.state}${ack.code ? ` ${ack.code}` : ''}`);
  }
  return out;
}

function isError(m: unknown): m is ResultMessage {
  return typeof (m as { code?: unknown }).code === 'number';
}

/**
 * `twin watch` on a terminal: one line per change (a document), and one per refused update (an
 * error result); undefined for what repeats a change already shown (the update's result, the
 * delta re-sent on every change while a desired value is open).
 */
export function formatWatchLine(event: TwinEvent): string | undefined {
  if (event.kind === 'result') {
    const m = event.message;
    return isError(m) ? `${clock(m.timestamp)} refused ${m.error_code}: ${cell(m.reason, Infinity)}` : undefined;
  }
  if (event.kind !== 'document') return undefined;
  const doc: DeviceTwinDocument = event.message;
  const parts = Object.entries(doc.twin).flatMap(([name, e]) => changes(name, e.last, e.current));
  return parts.length > 0 ? `${clock(doc.timestamp)} ${parts.join(', ')}` : undefined;
}
