// (g) External mode (mqtt.mode: external) beside mosquitto, as on a KubeEdge node: durable QoS 1
// twin updates/s (each committed to SQLite before edgetwin's PUBACK to mosquitto, answered on
// twin/update/result at QoS 1), against mosquitto alone moving the same messages in the same
// run (the same publishers and payloads to the same topics, a QoS 1 subscriber counting them).
// mosquitto runs with persistence on and its default in-flight window (max_inflight_messages
// 20 per client under MQTT 3.1.1); under MQTT 5 edgetwin sets the window itself (Receive
// Maximum = mqtt.external.maxInflight). The window-of-1 row is what a consumer that handles one
// message at a time (a plain serial handleMessage) would get. Targets alternate run by run.

import { fmt, median, pct, printTable, startBenchEdge, startMosquitto, type ResultRow } from './lib.js';
import { noProgress, type FigureSink } from './progress.js';
import { measure, type Target } from './twin-throughput.js';

export interface ExternalBenchOptions {
  /** Told each figure as it is measured (bench/progress.ts). */
  readonly figure?: FigureSink;
  /** Messages per scenario, split over its publishers. */
  readonly messages: number;
  readonly runs: number;
  /** QoS 1 publishes in flight per publisher. */
  readonly window: number;
}

interface Variant {
  readonly name: string;
  readonly mosquitto: readonly string[];
  /** undefined: mosquitto alone (the baseline). */
  readonly protocolVersion?: 4 | 5;
}

const PERSISTENT = ['persistence true', 'persistence_location $DIR/', 'max_queued_messages 0', 'set_tcp_nodelay true'];
const VARIANTS: readonly Variant[] = [
  { name: 'mosquitto alone', mosquitto: PERSISTENT },
  { name: 'external, MQTT 3.1.1 (mosquitto window 20)', mosquitto: PERSISTENT, protocolVersion: 4 },
  { name: 'external, MQTT 5 (Receive Maximum 1000)', mosquitto: PERSISTENT, protocolVersion: 5 },
  { name: 'external, window 1 (one message at a time)', mosquitto: [...PERSISTENT, 'max_inflight_messages 1'], protocolVersion: 4 },
];

const topic = (i: number): string => `$hw/events/device/default/bench-${i}/twin/update`;

/** mosquitto, and edgetwin in external mode on it unless this is the baseline. */
async function start(v: Variant, publishers: number): Promise<Target | undefined> {
  const m = await startMosquitto(v.mosquitto);
  if (!m) return undefined;
  if (v.protocolVersion === undefined) {
    return { url: m.url, topic, receiveFilter: '$hw/events/device/+/+/twin/update', stop: m.stop };
  }
  try {
    const edge = await startBenchEdge(publishers, undefined, {
      mqtt: { mode: 'external', answerQos: 1, external: { url: m.url, protocolVersion: v.protocolVersion } },
    });
    return {
      url: m.url,
      topic,
      receiveFilter: '$hw/events/device/+/+/twin/update/result',
      stop: async () => {
        await edge.stop();
        await m.stop();
      },
    };
  } catch (err) {
    await m.stop();
    throw err;
  }
}

export interface ExternalRow extends ResultRow {
  readonly scenario: string;
  readonly updatesPerSecond: number;
  readonly mosquittoAlone: number;
  readonly ratio: number;
}

export async function benchExternal(opts: ExternalBenchOptions): Promise<ExternalRow[] | undefined> {
  const out: ExternalRow[] = [];
  for (const publishers of [1, 10]) {
    const per = Math.max(1, Math.floor(opts.messages / publishers));
    const figures = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < opts.runs; r++) {
      for (const v of VARIANTS) {
        // One message at a time is slow by design: a tenth of the messages is enough to see it.
        const n = v.mosquitto.includes('max_inflight_messages 1') ? Math.max(1, Math.floor(per / 10)) : per;
        const target = await start(v, publishers);
        if (!target) {
          console.log('\n(g) skipped: mosquitto is not installed');
          return undefined;
        }
        try {
          figures.get(v)!.push(await measure(target, publishers, 1, { messagesPerPublisher: n, runs: 1, window: opts.window }));
          (opts.figure ?? noProgress)(`${v.name}, ${publishers} publisher(s), run ${r + 1}/${opts.runs}`, `${fmt(figures.get(v)!.at(-1)!)} msg/s`);
        } finally {
          await target.stop();
        }
      }
    }
    const alone = median(figures.get(VARIANTS[0]!)!);
    for (const v of VARIANTS) {
      const rate = median(figures.get(v)!);
      out.push({ scenario: `${v.name}, ${publishers} publisher${publishers > 1 ? 's' : ''}`, updatesPerSecond: Math.round(rate), mosquittoAlone: Math.round(alone), ratio: rate / alone });
    }
  }
  printTable(
    `(g) External mode beside mosquitto: durable QoS 1 twin updates/s (median of ${opts.runs} runs, ${fmt(opts.messages)} messages per scenario, window ${opts.window} per publisher)`,
    ['scenario', 'messages/s', 'mosquitto alone msg/s', 'vs mosquitto alone'],
    out.map((r) => [r.scenario, fmt(r.updatesPerSecond), fmt(r.mosquittoAlone), pct(r.updatesPerSecond, r.mosquittoAlone)]),
  );
  return out;
}
