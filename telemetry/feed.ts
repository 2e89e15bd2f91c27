// The feed: each reported value the twin commits, for a property that has sinks, becomes one
// record per sink in the outbox. It listens through the twin's public onChange (devicetwin/ knows
// no sink, DESIGN.md) and only appends to the outbox's memory (TelemetryOutbox.enqueue), so the
// twin path never waits for a sink. Delivery then runs on each property's reportCycle
// (the outbox's per-sink interval): every value reported in a cycle goes out in that cycle's batch.

import type { TwinChange } from '../devicetwin/index.js';
import type { SinkRecord } from './sink.js';

/** What the feed needs of the twin (DeviceTwin fits). */
export interface FeedSource {
  onChange(listener: (change: TwinChange) => void): () => void;
}

/** What the feed needs of the outbox (TelemetryOutbox fits). */
export interface FeedTarget {
  enqueue(sink: string, record: SinkRecord): boolean;
}

interface Route {
  readonly sinks: string[];
  readonly unit?: string;
  last?: { readonly value: string; readonly timestamp: number };
}

const NUMERIC = new Set(['int', 'integer', 'float', 'double']);

/** The wire string as the model types it (SinkRecord.value). */
export function typedValue(wire: string, type: string): string | number | boolean {
  if (NUMERIC.has(type)) {
    const n = Number(wire);
    return Number.isFinite(n) ? n : wire;
  }
  if (type === 'boolean') return wire === 'true';
  return wire;
}

export class TelemetryFeed {
  private readonly routes = new Map<string, Map<string, Route>>();
  private unsubscribe?: () => void;
  private fed = 0;

  constructor(private readonly opts: { readonly source: FeedSource; readonly target: FeedTarget }) {}

  /** Sends `device`'s `property` values to `sink`. */
  route(device: string, property: string, sink: string, unit?: string): void {
    let props = this.routes.get(device);
    if (!props) this.routes.set(device, (props = new Map<string, Route>()));
    const r = props.get(property);
    if (r) r.sinks.push(sink);
    else props.set(property, { sinks: [sink], ...(unit !== undefined ? { unit } : {}) });
  }

  /** Stops sending anything to `sink` (its device or method went away). */
  unroute(sink: string): void {
    for (const [device, props] of this.routes) {
      for (const [name, r] of props) {
        const i = r.sinks.indexOf(sink);
        if (i >= 0) r.sinks.splice(i, 1);
        if (r.sinks.length === 0) props.delete(name);
      }
      if (props.size === 0) this.routes.delete(device);
    }
  }

  start(): void {
    this.unsubscribe ??= this.opts.source.onChange((c) => this.onChange(c));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Records handed to the outbox since start. */
  get count(): number {
    return this.fed;
  }

  private onChange(change: TwinChange): void {
    const props = this.routes.get(change.id);
    if (!props) return;
    for (const name of change.changed) {
      const route = props.get(name);
      const twin = change.device.twins[name];
      const actual = twin?.actual;
      if (!route || !twin || !actual || twin.type === 'deleted') continue;
      // A change of the desired value alone leaves the reported one as it was: not a new value.
      if (route.last && route.last.timestamp === actual.timestamp && route.last.value === actual.value) continue;
      route.last = { value: actual.value, timestamp: actual.timestamp };
      const record: SinkRecord = {
        key: `${change.id}/${name}/${actual.timestamp}`,
        device: change.id,
        property: name,
        value: typedValue(actual.value, twin.type),
        ...(route.unit !== undefined ? { unit: route.unit } : {}),
        timestamp: actual.timestamp,
      };
      for (const sink of route.sinks) if (this.opts.target.enqueue(sink, record)) this.fed++;
    }
  }
}
