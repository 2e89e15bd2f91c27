// End-to-end twin updates/s over MQTT: mappers publish `twin/update`, an app receives every
// `update/result`. Baselines in the same run, with the same clients and payloads: raw aedes
// pub/sub (EmbeddedBroker without ingest) and mosquitto when installed.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { EmbeddedBroker } from '../eventbus/index.js';
import { resolveConfig } from '../schemas/index.js';
import { fmt, median, printTable, startMosquitto } from './lib.js';

export interface ThroughputOptions {
  readonly messagesPerPublisher: number;
  readonly runs: number;
  readonly window: number;
}

interface Target {
  readonly url: string;
  /** The topic publisher `i` sends to, and the filter the receiver counts on. */
  topic(i: number): string;
  readonly receiveFilter: string;
  stop(): Promise<void>;
}

const payload = (i: number, n: number): string =>
  JSON.stringify({ event_id: '', timestamp: 1718000000000 + n, twin: { temperature: { actual: { value: String(((n % 1000) / 10 + i).toFixed(1)) }, metadata: { type: 'float' } } } });

async function connect(url: string, id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 0 });
  // mqtt.js has no noDelay option; its socket is `stream` (see eventbus/mqtt-bus.ts).
  (c.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  return c;
}

/** One measurement: `publishers` clients each send `n` messages (at most `window` in flight). */
async function measure(target: Target, publishers: number, qos: 0 | 1, opts: ThroughputOptions): Promise<number> {
  const receiver = await connect(target.url, `bench-recv-${Date.now()}`);
  await receiver.subscribeAsync(target.receiveFilter, { qos });
  const pubs = await Promise.all(Array.from({ length: publishers }, (_, i) => connect(target.url, `bench-pub-${i}-${Date.now()}`)));
  const total = publishers * opts.messagesPerPublisher;
  let received = 0;
  const done = new Promise<void>((resolve) => {
    receiver.on('message', () => {
      if (++received === total) resolve();
    });
  });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    pubs.map(async (c, i) => {
      const topic = target.topic(i);
      let sent = 0;
      let inflight = 0;
      await new Promise<void>((resolve) => {
        const pump = (): void => {
          while (inflight < opts.window && sent < opts.messagesPerPublisher) {
            inflight++;
            c.publish(topic, payload(i, sent++), { qos }, () => {
              inflight--;
              if (sent === opts.messagesPerPublisher && inflight === 0) resolve();
              else pump();
            });
          }
        };
        pump();
      });
    }),
  );
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all([...pubs, receiver].map((c) => c.endAsync()));
  return total / seconds;
}

async function rawAedes(): Promise<Target> {
  const broker = new EmbeddedBroker({ port: 0, logger: silentLogger() });
  await broker.start();
  return { url: broker.url, topic: (i) => `bench/raw/${i}`, receiveFilter: 'bench/raw/+', stop: () => broker.close() };
}

async function mosquitto(): Promise<Target | undefined> {
  const m = await startMosquitto();
  if (!m) return undefined;
  return { url: m.url, topic: (i) => `bench/raw/${i}`, receiveFilter: 'bench/raw/+', stop: m.stop };
}

async function edgetwin(devices: number): Promise<Target> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-'));
  const devDir = path.join(dir, 'devices');
  mkdirSync(devDir);
  const docs = Array.from(
    { length: devices },
    (_, i) =>
      `apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata:\n  name: bench-${i}\nspec:\n  deviceModelRef:\n    name: thermostat\n  protocol:\n    protocolName: external\n  properties:\n    - name: temperature\n`,
  );
  writeFileSync(path.join(devDir, 'bench.yaml'), docs.join('---\n'));
  const core = new EdgeCore({
    config: resolveConfig({ dataDir: path.join(dir, 'data'), devices: [devDir], mqtt: { port: 0 }, log: { level: 'silent' } }),
    logger: silentLogger(),
  });
  await core.start();
  return {
    url: core.brokerUrl,
    topic: (i) => `$hw/events/device/default/bench-${i}/twin/update`,
    receiveFilter: '$hw/events/device/+/+/twin/update/result',
    stop: async () => {
      await core.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function benchTwinThroughput(opts: ThroughputOptions): Promise<Array<{ scenario: string; rate: number; baseline: number; mosquitto?: number }>> {
  const out: Array<{ scenario: string; rate: number; baseline: number; mosquitto?: number }> = [];
  for (const publishers of [1, 10]) {
    for (const qos of [0, 1] as const) {
      const raw: number[] = [];
      const mosq: number[] = [];
      const twin: number[] = [];
      for (let r = 0; r < opts.runs; r++) {
        // Interleave the targets so machine noise falls on all of them alike.
        const a = await rawAedes();
        raw.push(await measure(a, publishers, qos, opts));
        await a.stop();
        const m = await mosquitto();
        if (m) {
          mosq.push(await measure(m, publishers, qos, opts));
          await m.stop();
        }
        const e = await edgetwin(publishers);
        twin.push(await measure(e, publishers, qos, opts));
        await e.stop();
      }
      out.push({
        scenario: `${publishers} publisher${publishers > 1 ? 's' : ''}, QoS ${qos}${qos === 1 ? ' (durable commit before PUBACK)' : ''}`,
        rate: median(twin),
        baseline: median(raw),
        ...(mosq.length > 0 ? { mosquitto: median(mosq) } : {}),
      });
    }
  }
  printTable(
    `Twin updates/s end to end (median of ${opts.runs} runs, ${opts.messagesPerPublisher} messages per publisher, window ${opts.window})`,
    ['scenario', 'edgetwin twin updates/s', 'raw aedes msg/s', 'ratio vs aedes', 'mosquitto msg/s'],
    out.map((r) => [r.scenario, fmt(r.rate), fmt(r.baseline), `${fmt((100 * r.rate) / r.baseline)} %`, r.mosquitto ? fmt(r.mosquitto) : 'n/a']),
  );
  return out;
}
