// `twin set --wait`: set desired values, then wait for the closed loop (docs/reliability.md) to
// close: each value acked `applied` by its mapper (exit 0), `rejected` or `failed` (exit 1 with
// the ack's own code and reason), or still pending when the timeout runs out (exit 1,
// EDGETWIN_ERR_ACK_TIMEOUT).
//
// The device's documents are subscribed to before the update is sent, so no ack can slip in
// between. Documents go out at mqtt.answerQos (0 by default) and may be lost, so the twin is
// also read again every second while something is pending.

import { ERROR_CODES, edgetwinError, type EdgetwinError, type ErrorCode } from '../errors.js';
import type { DeviceTwinResult, MsgTwin, TwinClient } from '../devicetwin/index.js';

const REREAD_MS = 1000;

type Verdict = { readonly ok: true; readonly line: string } | { readonly ok: false; readonly error: EdgetwinError };

interface Wanted {
  readonly value: string;
  /** When the node took this desired value; older twin states are stale. */
  readonly since: number;
}

/** What one twin says of the desired value `want`, or undefined while it is still pending. */
export function verdict(name: string, want: Wanted, t: MsgTwin | null | undefined): Verdict | undefined {
  const label = `${name}=${want.value}`;
  if (!t) return { ok: false, error: edgetwinError('EDGETWIN_ERR_DESIRED_NOT_APPLIED', `${label}: the twin was deleted before the value was applied`) };
  const expected = t.expected?.value;
  if ((t.expected?.metadata?.timestamp ?? want.since) < want.since) return undefined; // an older state, delivered late
  if (expected !== want.value) {
    return { ok: false, error: edgetwinError('EDGETWIN_ERR_DESIRED_NOT_APPLIED', `${label}: another client set ${name} to ${expected ?? 'nothing'} before it was applied`) };
  }
  const ack = t.ack;
  if (ack?.state === 'applied') return { ok: true, line: `${label} applied` };
  if (ack?.state === 'rejected' || ack?.state === 'failed') {
    // The ack comes from the wire: its code is trusted only if it is one edgetwin knows.
    const code: ErrorCode = ack.code !== undefined && ack.code in ERROR_CODES ? (ack.code as ErrorCode) : 'EDGETWIN_ERR_DESIRED_NOT_APPLIED';
    const coded = ack.code !== undefined && code !== ack.code ? ` (${ack.code})` : '';
    return { ok: false, error: edgetwinError(code, `${label} ${ack.state} by the mapper${coded}: ${ack.reason ?? 'no reason given'}`) };
  }
  // A mapper that sends no acks (KubeEdge's) shows the value as written by reporting it; and a
  // value set to what the device already reports gets no delta, so no write and no ack.
  if (t.actual?.value === want.value) return { ok: true, line: `${label} reported by the device (no ack)` };
  return undefined;
}

/**
 * Sets `values` on `id` and resolves once every one is applied; rejects with the first
 * failure's code (every failure named in the message) or EDGETWIN_ERR_ACK_TIMEOUT.
 * `onResult` gets the update's result, `onLine` one line per property as it settles.
 */
export async function waitForAcks(
  client: TwinClient,
  id: string,
  values: Record<string, string>,
  timeoutMs: number,
  onResult: (result: DeviceTwinResult) => void,
  onLine: (line: string) => void,
): Promise<void> {
  const names = Object.keys(values);
  const latest = new Map<string, MsgTwin | null>();
  const wanted = new Map<string, Wanted>();
  const settled = new Map<string, Verdict>();
  let wake: (() => void) | undefined;

  const consider = (name: string, t: MsgTwin | null): void => {
    const want = wanted.get(name);
    if (!want || settled.has(name)) return;
    const v = verdict(name, want, t);
    if (!v) return;
    settled.set(name, v);
    if (v.ok) onLine(v.line);
  };
  const seen = (name: string, t: MsgTwin | null): void => {
    latest.set(name, t);
    consider(name, t);
    wake?.();
  };

  const sub = await client.watch(id, (event) => {
    if (event.kind !== 'document') return;
    for (const [name, entry] of Object.entries(event.message.twin)) if (names.includes(name)) seen(name, entry.current);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await client.setDesired(id, values);
    onResult(result);
    for (const name of names) {
      const t = result.twin[name];
      wanted.set(name, { value: t?.expected?.value ?? (values[name] as string), since: t?.expected?.metadata?.timestamp ?? 0 });
    }
    // A document may have overtaken the result: the newer of the two decides.
    for (const name of names) consider(name, latest.has(name) ? (latest.get(name) as MsgTwin | null) : (result.twin[name] ?? null));
    const deadline = Date.now() + timeoutMs;
    while (settled.size < names.length && Date.now() < deadline) {
      const woke = new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        timer = setTimeout(() => resolve(false), Math.min(REREAD_MS, Math.max(0, deadline - Date.now())));
      });
      const changed = await woke;
      clearTimeout(timer);
      wake = undefined;
      if (changed || settled.size === names.length || Date.now() >= deadline) continue;
      // Nothing heard for a while: read the twin, in case a document was lost.
      const twin = await client.get(id).catch(() => undefined);
      for (const name of names) if (twin && name in twin.twin) consider(name, twin.twin[name] ?? null);
    }
  } finally {
    clearTimeout(timer);
    await sub.unsubscribe();
  }
  const failures = names.map((n) => settled.get(n)).filter((v): v is Extract<Verdict, { ok: false }> => v !== undefined && !v.ok);
  const [first] = failures;
  if (first) {
    throw edgetwinError(first.error.code, failures.map((f) => (f === first ? f.error.message : `${f.error.code}: ${f.error.message}`)).join('; '));
  }
  const pending = names.filter((n) => !settled.has(n));
  if (pending.length > 0) {
    const list = pending.map((n) => `${n}=${wanted.get(n)?.value ?? values[n]}`).join(', ');
    throw edgetwinError('EDGETWIN_ERR_ACK_TIMEOUT', `${list} still pending after ${timeoutMs} ms: no mapper acknowledged it; is one serving ${id}? (edgetwin devices shows its state)`);
  }
}
