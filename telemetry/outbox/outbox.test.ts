import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { edgetwinError } from '../../errors.js';
import { eventually } from '../../test/async.js';
import { tempDir } from '../../test/helpers.js';
import type { Sink, SinkRecord } from '../sink.js';
import { TelemetryOutbox, type Clock } from './outbox.js';
import path from 'node:path';

const rec = (i: number): SinkRecord => ({ key: `default/d/p/${i}`, device: 'default/d', property: 'p', value: i, timestamp: 1_700_000_000_000 + i });

/** A sink that stores what it is given, or refuses while `down`. */
function memorySink(name = 'mem:default/d/p'): Sink & { got: SinkRecord[]; down: boolean; calls: number } {
  const s = {
    name,
    got: [] as SinkRecord[],
    down: false,
    calls: 0,
    async deliver(batch: readonly SinkRecord[]) {
      s.calls++;
      if (s.down) throw edgetwinError('EDGETWIN_ERR_SINK_UNAVAILABLE', 'down');
      s.got.push(...batch);
    },
    close: async () => {},
  };
  return s;
}

/** A clock whose waits return at once (on the next turn) and are recorded. */
function fastClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return { waits, now: () => 0, delay: (ms) => (waits.push(ms), new Promise((r) => setImmediate(r))) };
}

describe('TelemetryOutbox', () => {
  const dirs: { cleanup(): void }[] = [];
  const open: TelemetryOutbox[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
    for (const d of dirs.splice(0)) d.cleanup();
  });
  const make = (file: string, extra: Partial<ConstructorParameters<typeof TelemetryOutbox>[0]> = {}): TelemetryOutbox => {
    const o = new TelemetryOutbox({ file, clock: fastClock(), flushMs: 1, ...extra });
    o.open();
    open.push(o);
    return o;
  };
  const file = (): string => {
    const t = tempDir('edgetwin-outbox-');
    dirs.push(t);
    return path.join(t.dir, 'telemetry-outbox.db');
  };

  it('queues while the sink is down and delivers everything in order when it returns', async () => {
    const sink = memorySink();
    sink.down = true;
    const o = make(file(), { batchSize: 7 });
    o.register(sink, { intervalMs: 0 });
    for (let i = 0; i < 50; i++) expect(o.enqueue(sink.name, rec(i))).toBe(true);
    await eventually(async () => (sink.calls >= 3 ? true : undefined));
    expect(sink.got).toEqual([]);
    expect(o.stats()[0]).toMatchObject({ depth: 50, state: 'backoff' });
    sink.down = false;
    await eventually(async () => (o.stats()[0]?.depth === 0 ? true : undefined));
    expect(sink.got.map((r) => r.value)).toEqual([...Array(50).keys()]);
    expect(o.stats()[0]).toMatchObject({ delivered: 50, dropped: 0 });
  });

  it('drops a batch its sink refuses for good (isPermanent) and delivers the values after it', async () => {
    const sink = memorySink('rw');
    const refuse = new Set([3, 4]);
    const picky: Sink = {
      name: 'rw',
      async deliver(batch) {
        if (batch.some((r) => refuse.has(r.value as number))) throw edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_REFUSED', '400 out of bounds');
        await sink.deliver(batch, new AbortController().signal);
      },
      isPermanent: (e) => e.code === 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED',
      close: async () => {},
    };
    const o = make(file(), { batchSize: 2 });
    o.register(picky, { intervalMs: 0 });
    for (let i = 0; i < 8; i++) expect(o.enqueue('rw', rec(i))).toBe(true);
    await eventually(async () => (o.stats()[0]?.depth === 0 ? true : undefined));
    // Batches of two: [0,1] [2,3]✗ [4,5]✗ [6,7] — the refused ones are dropped, not retried forever.
    expect(sink.got.map((r) => r.value)).toEqual([0, 1, 6, 7]);
    expect(o.stats()[0]).toMatchObject({ delivered: 4, dropped: 4, lastError: { code: 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED' } });
  });

  it('waits backoffMs(failures) with jitter between attempts, and enqueue never waits for the sink', async () => {
    const clock = fastClock();
    const hanging: Sink = { name: 'hang', deliver: (_b, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))), close: async () => {} };
    const failing = memorySink('fail');
    failing.down = true;
    const o = make(file(), { clock, random: () => 0.5, deliveryTimeoutMs: 60_000 });
    o.register(hanging, { intervalMs: 0 });
    o.register(failing, { intervalMs: 0 });
    o.enqueue('fail', rec(0));
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) o.enqueue('hang', rec(i));
    // Not a speed assertion: enqueue returned although the sink never answers.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(0);
    await eventually(async () => (failing.calls >= 5 ? true : undefined));
    // OUTBOX_BACKOFF: 500 ms doubling, each drawn from [d/2, d] (random 0.5 → 0.75 d).
    expect(clock.waits.slice(0, 4)).toEqual([375, 750, 1500, 3000]);
  });

  it('keeps what is queued across a restart (a new outbox on the same file)', async () => {
    const f = file();
    const down = memorySink();
    down.down = true;
    const first = make(f);
    first.register(down, { intervalMs: 0 });
    for (let i = 0; i < 30; i++) first.enqueue(down.name, rec(i));
    // close() writes what was only in memory.
    await first.close();
    open.splice(open.indexOf(first), 1);
    const up = memorySink();
    const second = make(f);
    expect(second.leftoverSinks()).toEqual([up.name]);
    second.register(up, { intervalMs: 0 });
    expect(second.stats()[0]?.depth).toBe(30);
    second.enqueue(up.name, rec(30));
    await eventually(async () => (second.stats()[0]?.depth === 0 ? true : undefined));
    expect(up.got.map((r) => r.value)).toEqual([...Array(31).keys()]);
  });

  it('is bounded per sink: past maxRecords or maxBytes the oldest are dropped, and counted', async () => {
    const registry = new Registry();
    const sink = memorySink();
    sink.down = true;
    const o = make(file(), { registry, limits: { maxRecords: 10, maxBytes: 1_000_000 } });
    o.register(sink, { intervalMs: 0 });
    for (let i = 0; i < 25; i++) o.enqueue(sink.name, rec(i));
    o.flush();
    expect(o.stats()[0]).toMatchObject({ depth: 10, dropped: 15 });
    const text = await registry.metrics();
    expect(text).toContain('edgetwin_telemetry_outbox_depth{sink="mem:default/d/p"} 10');
    expect(text).toContain('edgetwin_telemetry_outbox_dropped_total{sink="mem:default/d/p"} 15');
    sink.down = false;
    await eventually(async () => (o.stats()[0]?.depth === 0 ? true : undefined));
    expect(sink.got.map((r) => r.value)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);

    const bytes = memorySink('bytes');
    bytes.down = true;
    const size = Buffer.byteLength(JSON.stringify(rec(10)));
    o.register(bytes, { intervalMs: 0, limits: { maxRecords: 1000, maxBytes: size * 3 } });
    for (let i = 10; i < 20; i++) o.enqueue('bytes', rec(i));
    o.flush();
    expect(o.stats().find((s) => s.name === 'bytes')).toMatchObject({ depth: 3, dropped: 7 });
  });

  it('delivers on the sink\'s interval while it keeps up', async () => {
    const clock = fastClock();
    const sink = memorySink();
    const o = make(file(), { clock });
    o.register(sink, { intervalMs: 250 });
    o.enqueue(sink.name, rec(1));
    await eventually(async () => (sink.got.length === 1 ? true : undefined));
    await eventually(async () => (clock.waits.includes(250) ? true : undefined));
  });
});
