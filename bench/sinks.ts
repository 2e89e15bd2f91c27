// (s1) The cost per value of each KubeEdge pushMethod/dbMethod sink (telemetry/sinks/) against
// its real server on this machine — mosquitto, an HTTP receiver, influxd 1.6 (v1 API),
// redis-server, mariadbd — and of the outbox itself (enqueue, write, read, delete) with a sink
// that does nothing. (s2) An outage of `hours` (clock injected) for `properties` properties
// reporting at 1 Hz, each with its own sink: the outbox's size on disk, then its drain time once
// the sinks are back (outbox-bound: a no-op sink; a real one adds its s1 cost per value).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { edgetwinError } from '../errors.js';
import type { Sink, SinkRecord } from '../telemetry/index.js';
import { TelemetryOutbox, type OutboxClock } from '../telemetry/index.js';
import { httpSink, influxSink, mqttSink, mysqlSink, redisSink } from '../telemetry/sinks/index.js';
import { median, printTable, startMosquitto } from './lib.js';
import { startHttpReceiver, startInfluxd, startMariadb, startRedis } from './sink-servers.js';

const target = { namespace: 'default', name: 'bench', property: 'temperature', type: 'float' };
const rec = (i: number, t0: number): SinkRecord => ({ key: `default/bench/temperature/${t0 + i}`, device: 'default/bench', property: 'temperature', value: 20 + (i % 100) / 10, timestamp: t0 + i });

async function perValue(sink: Sink, values: number, batch: number, runs: number): Promise<number> {
  const us: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = Date.now() + r * values * 10;
    const start = performance.now();
    for (let i = 0; i < values; i += batch) {
      const b: SinkRecord[] = [];
      for (let j = i; j < Math.min(values, i + batch); j++) b.push(rec(j, t0));
      await sink.deliver(b, AbortSignal.timeout(60_000));
    }
    us.push(((performance.now() - start) * 1000) / values);
  }
  return median(us);
}

export async function benchSinkCost(o: { values: number; batch: number; runs: number }): Promise<Record<string, number>> {
  const broker = await startMosquitto();
  const [http, influx, redis, maria] = await Promise.all([startHttpReceiver(), startInfluxd(), startRedis(), startMariadb()]);
  const results: Record<string, number> = {};
  try {
    await influx.query('CREATE DATABASE bench');
    const db = await createConnection({ host: '127.0.0.1', port: maria.port, user: 'root' });
    await db.query('CREATE DATABASE kubeedge');
    await db.end();
    const sinks: Record<string, Sink> = {
      ...(broker ? { 'mqtt qos 1': mqttSink(target, { address: broker.url, topic: 'bench', qos: 1, retained: false }, {}), 'mqtt qos 0': mqttSink({ ...target, property: 'q0' }, { address: broker.url, topic: 'bench0', qos: 0, retained: false }, {}) } : {}),
      'http (one POST per value)': httpSink(target, { hostName: '127.0.0.1', port: http.port, requestPath: '/push' }, {}),
      'influxdb2 (v1 /write)': influxSink(target, { influxdb2ClientConfig: { url: influx.url, bucket: 'bench' }, influxdb2DataConfig: { measurement: 'bench' } }, {}, 'v1'),
      redis: redisSink(target, { redisClientConfig: { addr: `127.0.0.1:${redis.port}` } }, {}),
      mysql: mysqlSink(target, { mysqlClientConfig: { addr: `127.0.0.1:${maria.port}`, database: 'kubeedge', userName: 'root' } }, {}),
    };
    // Connections up before timing (mqtt connects in the background).
    await new Promise((r) => setTimeout(r, 300));
    for (const [name, sink] of Object.entries(sinks)) {
      await sink.deliver([rec(0, 1)], AbortSignal.timeout(30_000));
      results[name] = await perValue(sink, name.startsWith('http') ? Math.min(o.values, 500) : o.values, o.batch, o.runs);
    }
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    // The outbox alone: enqueue, the batched write, read in order, delete on success.
    const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-outbox-'));
    const noop: Sink = { name: 'noop', deliver: async () => {}, close: async () => {} };
    const outbox = new TelemetryOutbox({ file: path.join(dir, 'o.db'), batchSize: o.batch });
    outbox.open();
    outbox.register(noop, { intervalMs: 0 });
    const start = performance.now();
    const n = o.values * 10;
    for (let i = 0; i < n; i++) outbox.enqueue('noop', rec(i, 1));
    outbox.flush();
    while ((outbox.stats()[0]?.depth ?? 0) > 0) await new Promise((r) => setTimeout(r, 5));
    results['outbox alone (no-op sink)'] = ((performance.now() - start) * 1000) / n;
    await outbox.close();
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await Promise.all([broker?.stop(), http.stop(), influx.close(), redis.close(), maria.close()]);
  }
  printTable(`(s1) Sink cost per value, batches of ${o.batch} (median of ${o.runs} runs)`, ['sink', 'µs/value', 'values/s'], Object.entries(results).map(([k, v]) => [k, v.toFixed(1), Math.round(1e6 / v).toLocaleString('en-US')]));
  return results;
}

/** A clock that moves only when advanced (the outage's hours pass in a loop, not in real time). */
function manualClock(): OutboxClock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    delay: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const onAbort = (): void => resolve();
        timers.push({
          at: now + ms,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.resolve();
    },
  };
}

export async function benchOutage(o: { properties: number; hours: number }): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-outage-'));
  const clock = manualClock();
  let down = true;
  const sinks: Sink[] = [];
  for (let p = 0; p < o.properties; p++) {
    sinks.push({
      name: `bench:default/dev-${Math.floor(p / 10)}/p${p % 10}`,
      deliver: async () => {
        if (down) throw edgetwinError('EDGETWIN_ERR_SINK_UNAVAILABLE', 'down');
      },
      close: async () => {},
    });
  }
  const outbox = new TelemetryOutbox({ file: path.join(dir, 'telemetry-outbox.db'), clock, limits: { maxRecords: 1_000_000, maxBytes: 1 << 30 } });
  outbox.open();
  for (const s of sinks) outbox.register(s, { intervalMs: 1000 });
  const seconds = Math.round(o.hours * 3600);
  const t0 = Date.UTC(2026, 0, 1);
  const fillStart = performance.now();
  for (let s = 0; s < seconds; s++) {
    for (let p = 0; p < o.properties; p++) {
      const sink = sinks[p]!;
      outbox.enqueue(sink.name, { key: `${sink.name}/${t0 + s * 1000}`, device: `default/dev-${Math.floor(p / 10)}`, property: `p${p % 10}`, value: 20 + ((s + p) % 100) / 10, unit: 'Celsius', timestamp: t0 + s * 1000 });
    }
    if (s % 60 === 59) {
      outbox.flush();
      clock.advance(60_000);
      await new Promise((r) => setImmediate(r));
    }
  }
  outbox.flush();
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const queued = outbox.stats().reduce((a, s) => a + s.depth, 0);
  const fileBytes = outbox.fileBytes();
  down = false;
  const drainStart = performance.now();
  const tick = setInterval(() => clock.advance(1000), 1);
  while (outbox.stats().some((s) => s.depth > 0)) await new Promise((r) => setTimeout(r, 10));
  clearInterval(tick);
  const drainSeconds = (performance.now() - drainStart) / 1000;
  await outbox.close();
  rmSync(dir, { recursive: true, force: true });
  const scale = 24 / o.hours;
  const results = {
    hours: o.hours,
    properties: o.properties,
    queued,
    fileMB: fileBytes / 1e6,
    bytesPerValue: fileBytes / queued,
    fillSeconds,
    drainSeconds,
    drainValuesPerSecond: queued / drainSeconds,
    extrapolated24hFileGB: (fileBytes * scale) / 1e9,
    extrapolated24hDrainMinutes: (drainSeconds * scale) / 60,
  };
  printTable(
    `(s2) Outage of ${o.hours} h (clock injected), ${o.properties} properties at 1 Hz, one sink each`,
    ['queued', 'on disk', 'B/value', 'fill (wall)', 'drain (wall, no-op sink)', 'drain rate', '24 h on disk (×' + scale.toFixed(0) + ')', '24 h drain'],
    [[queued.toLocaleString('en-US'), `${results.fileMB.toFixed(0)} MB`, results.bytesPerValue.toFixed(0), `${fillSeconds.toFixed(1)} s`, `${drainSeconds.toFixed(1)} s`, `${Math.round(results.drainValuesPerSecond).toLocaleString('en-US')}/s`, `${results.extrapolated24hFileGB.toFixed(1)} GB`, `${results.extrapolated24hDrainMinutes.toFixed(0)} min`]],
  );
  return results;
}
