// The console's one adapter onto the twin's change events (DeviceTwin.onChange, the public API
// of devicetwin/index.ts): each committed change becomes the device's new state plus readable
// events (reported and desired values, the delta a desired value opens, ack results, state
// changes), and the last events of each device are kept for the device page. Errors the HTTP
// API refused are noted here too. Whatever emitter the twin offers, only this file knows it.

import type { DeviceTwin, DeviceTwinState, TwinChange } from '../../devicetwin/index.js';

export type ConsoleEventKind = 'reported' | 'desired' | 'delta' | 'result' | 'state' | 'error';

export interface ConsoleEvent {
  readonly t: number;
  readonly device: string;
  readonly kind: ConsoleEventKind;
  readonly property?: string;
  readonly text: string;
  readonly code?: string;
}

export interface FeedChange {
  readonly id: string;
  readonly device: DeviceTwinState;
  readonly events: readonly ConsoleEvent[];
}

export type FeedListener = (change: FeedChange) => void;

/** Events kept per device (the device page shows them newest first). */
const KEPT = 50;

export class TwinFeed {
  readonly #recent = new Map<string, ConsoleEvent[]>();
  readonly #last = new Map<string, DeviceTwinState>();
  readonly #listeners = new Set<FeedListener>();
  #off: (() => void) | undefined;
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  /** Follows `twin`'s committed changes until stop(). */
  start(twin: DeviceTwin): void {
    this.stop();
    for (const entry of twin.list()) this.#last.set(entry.state.id, entry.state);
    this.#off = twin.onChange((change) => this.#changed(change));
  }

  stop(): void {
    this.#off?.();
    this.#off = undefined;
  }

  on(listener: FeedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  recent(id: string): readonly ConsoleEvent[] {
    return this.#recent.get(id) ?? [];
  }

  /** A refusal the HTTP API answered (a desired value the twin rejected): shown with the device's events. */
  noteError(device: string, text: string, code: string, property?: string): void {
    const event: ConsoleEvent = { t: this.#clock(), device, kind: 'error', text, code, ...(property !== undefined ? { property } : {}) };
    this.#keep(device, [event]);
    const state = this.#last.get(device);
    if (state) this.#emit({ id: device, device: state, events: [event] });
  }

  #changed(change: TwinChange): void {
    const prev = this.#last.get(change.id);
    const next = change.device;
    this.#last.set(change.id, next);
    const events = describeChange(prev, next, change.changed, this.#clock());
    this.#keep(change.id, events);
    this.#emit({ id: change.id, device: next, events });
  }

  #keep(id: string, events: readonly ConsoleEvent[]): void {
    if (events.length === 0) return;
    const list = this.#recent.get(id) ?? [];
    list.push(...events);
    if (list.length > KEPT) list.splice(0, list.length - KEPT);
    this.#recent.set(id, list);
  }

  #emit(change: FeedChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // One browser's socket failing must not stop the others' updates.
      }
    }
  }
}

/** The readable events of one change (pure). */
export function describeChange(prev: DeviceTwinState | undefined, next: DeviceTwinState, changed: readonly string[], now: number): ConsoleEvent[] {
  const events: ConsoleEvent[] = [];
  const device = next.id;
  if (prev && prev.state !== next.state) events.push({ t: now, device, kind: 'state', text: `state ${prev.state} → ${next.state}` });
  for (const property of changed) {
    const before = prev?.twins[property];
    const after = next.twins[property];
    if (!after) continue;
    if (after.actual && after.actual.value !== before?.actual?.value) events.push({ t: after.actual.timestamp, device, kind: 'reported', property, text: `${property} reported ${after.actual.value}` });
    if (after.expected && after.expected.value !== before?.expected?.value) {
      events.push({ t: after.expected.timestamp, device, kind: 'desired', property, text: `${property} desired ${after.expected.value}` });
      if (after.expected.value !== after.actual?.value) events.push({ t: after.expected.timestamp, device, kind: 'delta', property, text: `delta: ${property} ${after.actual?.value ?? '(none)'} → ${after.expected.value}` });
    }
    const ack = after.ack;
    if (ack && (ack.state !== before?.ack?.state || ack.timestamp !== before.ack.timestamp) && ack.state !== 'pending') {
      const why = ack.code !== undefined ? ` (${ack.code}${ack.reason ? `: ${ack.reason}` : ''})` : '';
      events.push({ t: ack.timestamp, device, kind: ack.state === 'applied' ? 'result' : 'error', property, text: `${property} ${ack.state}${why}`, ...(ack.code !== undefined ? { code: ack.code } : {}) });
    }
  }
  return events;
}
