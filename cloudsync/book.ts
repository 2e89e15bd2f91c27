// The status cloud sync owes the cluster, per device: the latest reported/observedDesired per
// property and the device state, each with the sequence of its oldest unsent change. Kept in
// memory and written through to the outbox, so it survives a restart during an outage.

import type { TwinState } from '../devicetwin/index.js';
import type { Outbox, OutboxData, StateRow, StatusRow } from './outbox.js';
import { advanceRow } from './status.js';

export class StatusBook {
  private readonly rows = new Map<string, Map<string, StatusRow>>();
  private readonly states = new Map<string, StateRow>();
  private seq: number;

  constructor(
    private readonly outbox: Outbox,
    data: OutboxData,
  ) {
    this.seq = data.seq;
    for (const [id, rows] of data.status) this.rows.set(id, rows);
    for (const [id, row] of data.states) this.states.set(id, row);
  }

  /** A fresh sequence number (also orders work that is not status, e.g. a desired push). */
  next(): number {
    return ++this.seq;
  }

  rowsOf(id: string): ReadonlyMap<string, StatusRow> | undefined {
    return this.rows.get(id);
  }

  stateOf(id: string): StateRow | undefined {
    return this.states.get(id);
  }

  /** Takes a twin's current values for one property; true if something is now pending. */
  advance(id: string, property: string, twin: TwinState | undefined): boolean {
    const rows = this.rows.get(id) ?? new Map<string, StatusRow>();
    const row = advanceRow(rows.get(property), twin, this.seq + 1);
    if (!row) return false;
    this.seq++;
    rows.set(property, row);
    this.rows.set(id, rows);
    this.outbox.putStatus(id, property, row);
    return true;
  }

  /** Records a device state; false when it is what the book already holds. */
  setState(id: string, state: string, lastOnline: string): boolean {
    const prev = this.states.get(id);
    if (prev && prev.state === state && prev.lastOnline === lastOnline) return false;
    const row: StateRow = { state, lastOnline, pendingSince: prev?.pendingSince ?? this.seq + 1, seq: ++this.seq };
    this.states.set(id, row);
    this.outbox.putState(id, row);
    return true;
  }

  /** The sequence of the device's oldest unsent change, if any. */
  pendingSince(id: string): number | undefined {
    let min = this.states.get(id)?.pendingSince;
    for (const row of this.rows.get(id)?.values() ?? []) {
      if (row.pendingSince !== undefined && (min === undefined || row.pendingSince < min)) min = row.pendingSince;
    }
    return min;
  }

  /** A write of this snapshot succeeded: clear what is still at the sequence that was sent. */
  acked(id: string, sent: ReadonlyMap<string, number>, stateSeq: number | undefined): void {
    const rows = this.rows.get(id);
    for (const [p, seq] of sent) {
      const row = rows?.get(p);
      if (!rows || !row || row.seq !== seq || row.pendingSince === undefined) continue;
      const { pendingSince: _s, ...done } = row;
      rows.set(p, done);
      this.outbox.putStatus(id, p, done);
    }
    const state = this.states.get(id);
    if (state && stateSeq === state.seq && state.pendingSince !== undefined) {
      const { pendingSince: _s, ...done } = state;
      this.states.set(id, done);
      this.outbox.putState(id, done);
    }
  }

  drop(id: string): void {
    this.rows.delete(id);
    this.states.delete(id);
  }
}
