// (a) End-to-end twin updates/s. Mappers publish `twin/update` (over MQTT, or in-process on the
// bus as edgetwin's own mappers do) and an app receives every `update/result`. Baselines in the
// same run, with the same clients and payloads: raw aedes pub/sub (EmbeddedBroker with no
// ingest) and mosquitto when installed. Targets are interleaved run by run so machine noise
// falls on all of them alike.

import type { MqttClient } from 'mqtt';
import { EmbeddedBroker, type Bus } from '../eventbus/index.js';
import { silentLogger } from '../edgecore/index.js';
import { connectClient, fmt, median, pct, printTable, startBenchEdge, startMosquitto, temperatureUpdate, type ResultRow } from './lib.js';
import { noProgress, type FigureSink } from './progress.js';

export interface ThroughputOptions {
  readonly messagesPerPublisher: number;
  readonly runs: number;
  /** Messages in flight per publisher. */
  readonly window: number;
  /** Told each figure as it is measured (bench/progress.ts). */
  readonly figure?: FigureSink;
}

export interface Target {
  readonly url: string;
  /** The topic publisher `i` sends to. */
  topic(i: number): string;
  /** What the receiving app subscribes to. */
  readonly receiveFilter: string;
  /** The in-process bus, for the in-process mapper scenario. */
  readonly bus?: Bus;
  stop(): Promise<void>;
}

/** Drives `send` with at most `window` in flight until `n` have completed. */
function pump(n: number, window: number, send: (seq: number, done: () => void) => void): Promise<void> {
  let sent = 0;
  let inflight = 0;
  return new Promise((resolve) => {
    const next = (): void => {
      while (inflight < window && sent < n) {
        inflight++;
        send(sent++, () => {
          inflight--;
          if (sent === n && inflight === 0) resolve();
          else next();
        });
      }
    };
    next();
  });
}

/** One measurement: `publishers` senders each send `n` messages; returns messages/s received. */
export async function measure(target: Target, publishers: number, qos: 0 | 1, opts: ThroughputOptions, inProcess = false): Promise<number> {
  const receiver = await connectClient(target.url, `bench-recv-${process.hrtime.bigint()}`);
  await receiver.subscribeAsync(target.receiveFilter, { qos });
  const clients: MqttClient[] = inProcess ? [] : await Promise.all(Array.from({ length: publishers }, (_, i) => connectClient(target.url, `bench-pub-${i}-${process.hrtime.bigint()}`)));
  const total = publishers * opts.messagesPerPublisher;
  let received = 0;
  const done = new Promise<void>((resolve) => {
    receiver.on('message', () => {
      if (++received === total) resolve();
    });
  });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: publishers }, (_, i) => {
      const topic = target.topic(i);
      const client = clients[i];
      const bus = target.bus;
      return pump(opts.messagesPerPublisher, opts.window, (seq, sent) => {
        const payload = temperatureUpdate('', seq + i);
        if (client) client.publish(topic, payload, { qos }, sent);
        else void bus!.publish(topic, payload, { qos }).then(sent, sent);
      });
    }),
  );
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all([...clients, receiver].map((c) => c.endAsync()));
  return total / seconds;
}

async function rawAedes(): Promise<Target> {
  const broker = new EmbeddedBroker({ port: 0, logger: silentLogger() });
  await broker.start();
  return { url: broker.url, topic: (i) => `bench/raw/${i}`, receiveFilter: 'bench/raw/+', bus: broker, stop: () => broker.close() };
}

async function mosquitto(): Promise<Target | undefined> {
  const m = await startMosquitto();
  if (!m) return undefined;
  return { url: m.url, topic: (i) => `bench/raw/${i}`, receiveFilter: 'bench/raw/+', stop: m.stop };
}

async function edgetwin(devices: number, metrics = true, history = true): Promise<Target> {
  const edge = await startBenchEdge(devices, undefined, { ...(metrics ? {} : { metrics: { enabled: false } }), ...(history ? {} : { history: { enabled: false } }) });
  return {
    url: edge.url,
    topic: (i) => `$hw/events/device/default/bench-${i}/twin/update`,
    receiveFilter: '$hw/events/device/+/+/twin/update/result',
    bus: edge.core.bus,
    stop: () => edge.stop(),
  };
}

export interface ThroughputRow extends ResultRow {
  readonly scenario: string;
  readonly edgetwin: number;
  readonly aedes: number;
  readonly ratio: number;
  readonly mosquitto: number;
}

export async function benchTwinThroughput(opts: ThroughputOptions): Promise<ThroughputRow[]> {
  const figure = opts.figure ?? noProgress;
  const out: ThroughputRow[] = [];
  const row = (scenario: string, twin: number[], raw: number[], mosq: number[]): void => {
    out.push({ scenario, edgetwin: Math.round(median(twin)), aedes: Math.round(median(raw)), ratio: median(twin) / median(raw), mosquitto: mosq.length > 0 ? Math.round(median(mosq)) : 0 });
  };
  for (const publishers of [1, 10]) {
    for (const qos of [0, 1] as const) {
      const raw: number[] = [];
      const mosq: number[] = [];
      const twin: number[] = [];
      for (let r = 0; r < opts.runs; r++) {
        for (const [name, start, into] of [['raw aedes', rawAedes, raw], ['mosquitto', mosquitto, mosq], ['edgetwin', () => edgetwin(publishers), twin]] as const) {
          const target = await start();
          if (!target) continue;
          into.push(await measure(target, publishers, qos, opts));
          await target.stop();
          figure(`${name}, ${publishers} publisher(s), QoS ${qos}, run ${r + 1}/${opts.runs}`, `${fmt(into.at(-1)!)} msg/s`);
        }
      }
      row(`MQTT, ${publishers} publisher${publishers > 1 ? 's' : ''}, QoS ${qos}${qos === 1 ? ' (durable: commit before PUBACK)' : ''}`, twin, raw, mosq);
    }
  }
  // Edgetwin's own mappers publish on the bus: the same ingest and commit, no MQTT socket in.
  for (const mappers of [1, 10]) {
    const raw: number[] = [];
    const twin: number[] = [];
    for (let r = 0; r < opts.runs; r++) {
      const a = await rawAedes();
      raw.push(await measure(a, mappers, 1, opts, true));
      await a.stop();
      const e = await edgetwin(mappers);
      twin.push(await measure(e, mappers, 1, opts, true));
      await e.stop();
      figure(`in-process, ${mappers} mapper(s), run ${r + 1}/${opts.runs}`, `edgetwin ${fmt(twin.at(-1)!)}/s, raw aedes ${fmt(raw.at(-1)!)}/s`);
    }
    row(`in-process mapper on the bus, ${mappers} mapper${mappers > 1 ? 's' : ''} (durable)`, twin, raw, []);
  }
  // What metrics cost on the hottest path: the same 10-publisher QoS 1 run with them off.
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < opts.runs; r++) {
    for (const [metrics, into] of [[true, on], [false, off]] as const) {
      const e = await edgetwin(10, metrics);
      into.push(await measure(e, 10, 1, opts));
      await e.stop();
      figure(`metrics ${metrics ? 'on' : 'off'}, 10 publishers, QoS 1, run ${r + 1}/${opts.runs}`, `${fmt(into.at(-1)!)} updates/s`);
    }
  }
  row('MQTT, 10 publishers, QoS 1, metrics on (vs metrics off as the baseline)', on, off, []);
  printTable(
    `(a) Twin updates/s end to end (median of ${opts.runs} runs, ${fmt(opts.messagesPerPublisher)} messages per publisher, window ${opts.window})`,
    ['scenario', 'edgetwin updates/s', 'baseline msg/s (raw aedes)', 'edgetwin / baseline', 'mosquitto msg/s'],
    out.map((r) => [r.scenario, fmt(r.edgetwin), fmt(r.aedes), pct(r.edgetwin, r.aedes), r.mosquitto > 0 ? fmt(r.mosquitto) : 'n/a']),
  );
  return out;
}

export interface HistoryCostRow extends ResultRow {
  readonly on: number;
  readonly off: number;
  readonly ratio: number;
  readonly runsOn: string;
  readonly runsOff: string;
}

/**
 * (a2) What history costs on the hottest durable path: the 10-publisher QoS 1 run of (a), every
 * update keeping its value in the same commit, against the same with `history.enabled: false`.
 * Rounds alternate on and off so machine noise falls on both; medians and their ratio.
 */
export async function benchHistoryCost(opts: ThroughputOptions): Promise<HistoryCostRow[]> {
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < opts.runs; r++) {
    for (const [history, into] of [[true, on], [false, off]] as const) {
      const e = await edgetwin(10, true, history);
      into.push(await measure(e, 10, 1, opts));
      await e.stop();
      (opts.figure ?? noProgress)(`history ${history ? 'on' : 'off'}, 10 publishers, QoS 1, round ${r + 1}/${opts.runs}`, `${fmt(into.at(-1)!)} updates/s`);
    }
  }
  const row: HistoryCostRow = {
    on: Math.round(median(on)),
    off: Math.round(median(off)),
    ratio: median(on) / median(off),
    runsOn: on.map((x) => Math.round(x)).join(' '),
    runsOff: off.map((x) => Math.round(x)).join(' '),
  };
  printTable(
    `(a2) Twin updates/s with history on vs off (10 publishers, QoS 1, durable; median of ${opts.runs} alternating rounds, ${fmt(opts.messagesPerPublisher)} messages per publisher)`,
    ['history on updates/s', 'history off updates/s', 'on / off', 'rounds on', 'rounds off'],
    [[fmt(row.on), fmt(row.off), pct(row.on, row.off), row.runsOn, row.runsOff]],
  );
  return [row];
}
