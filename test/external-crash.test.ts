// External mode under QoS 1 load, with the failures a KubeEdge node sees: edgetwin killed with
// SIGKILL while mosquitto keeps accepting updates, and mosquitto itself restarted. The promise
// checked: every update mosquitto PUBACKed to its publisher is applied by the twin in the end
// (each is answered on twin/update/result, at least once, and the final twin is the last one
// sent), whole, and nothing is applied that was never sent. A recorder with a persistent
// session collects the results through every restart.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, within } from './async.js';
import { tempDir, thermostatManifest, TestClient, writeManifests } from './helpers.js';
import { SKIP_WITHOUT_MOSQUITTO, startMosquitto, type Mosquitto } from './mosquitto.js';
import { BUILT, edgeArgs, spawnEdge, type RunningEdge } from './process.js';

const DEVICES = ['dev-0', 'dev-1', 'dev-2'];
const WINDOW = 16; // QoS 1 publishes in flight to mosquitto per device
const BACKLOG = 400; // updates accepted by mosquitto but not yet answered, at most (bounds a run)
const MODES = ['off', 'heat', 'cool'] as const;

/** mulberry32, so a failing run can be replayed with CRASH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Update n of a device: three properties derived from n, in one message. */
function update(device: string, n: number): string {
  return JSON.stringify({
    event_id: `${device}:${n}`,
    timestamp: n,
    twin: { temperature: { actual: { value: String(n / 1000) } }, mode: { actual: { value: MODES[n % 3] } }, power: { actual: { value: String(n % 2 === 0) } } },
  });
}

/** Every twin/update/result, by event id; errors kept apart. */
class Recorder {
  readonly answered = new Set<string>();
  readonly errors: string[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      const r = JSON.parse(payload.toString()) as { event_id: string; code?: number; error_code?: string };
      if (r.code !== undefined) this.errors.push(`${r.event_id}: ${r.error_code ?? r.code}`);
      else this.answered.add(r.event_id);
    });
  }

  static async connect(url: string): Promise<Recorder> {
    // A persistent session: results published while it is away (mosquitto restarting) wait for it.
    const client = await mqtt.connectAsync(url, { clientId: 'crash-recorder', clean: false, reconnectPeriod: 100 });
    client.on('error', () => undefined);
    const rec = new Recorder(client);
    await client.subscribeAsync('$hw/events/device/+/+/twin/update/result', { qos: 1 });
    return rec;
  }
}

/** Streams QoS 1 updates for every device through mosquitto until stopped. */
class Publisher {
  readonly acked = new Map<string, Set<number>>(DEVICES.map((d) => [d, new Set<number>()]));
  readonly next = new Map<string, number>(DEVICES.map((d) => [d, 1]));
  private inflight = 0;
  private turn = 0;
  private stopped = false;
  private readonly idle: Array<() => void> = [];
  private constructor(
    readonly client: MqttClient,
    private readonly backlog: () => number,
  ) {}

  static async connect(url: string, recorder: Recorder): Promise<Publisher> {
    const client = await mqtt.connectAsync(url, { clientId: 'crash-publisher', reconnectPeriod: 100 });
    client.on('error', () => undefined);
    const p: Publisher = new Publisher(client, () => p.ackedCount() - recorder.answered.size);
    return p;
  }

  ackedCount(): number {
    return [...this.acked.values()].reduce((sum, s) => sum + s.size, 0);
  }

  maxSent(device: string): number {
    return this.next.get(device)! - 1;
  }

  /** Sends while the window and the backlog allow; called again on each PUBACK and each answer. */
  poke(): void {
    while (!this.stopped && this.inflight < WINDOW * DEVICES.length && this.backlog() < BACKLOG) {
      const device = DEVICES[this.turn++ % DEVICES.length]!;
      const n = this.next.get(device)!;
      this.next.set(device, n + 1);
      this.inflight++;
      this.client.publish(`$hw/events/device/default/${device}/twin/update`, update(device, n), { qos: 1 }, (err) => {
        this.inflight--;
        if (!err) this.acked.get(device)!.add(n);
        if (this.stopped && this.inflight === 0) for (const f of this.idle.splice(0)) f();
        this.poke();
      });
    }
  }

  /** Stops sending and resolves once every publish in flight has its PUBACK (mosquitto is up). */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}

interface Final {
  version: number;
  n: number;
  mode: string | undefined;
  power: string | undefined;
}

async function finalTwins(url: string): Promise<Final[]> {
  const reader = await TestClient.connect(url, DEVICES.map((d) => `$hw/events/device/default/${d}/twin/get/result`));
  try {
    return await Promise.all(
      DEVICES.map(async (d) => {
        const id = `final-${d}-${Date.now()}`;
        await reader.publish(`$hw/events/device/default/${d}/twin/get`, { event_id: id });
        const got = (await reader.next(`$hw/events/device/default/${d}/twin/get/result`, (j) => j.event_id === id, 10_000)).json;
        const twin = got.twin as Record<string, { actual?: { value: string } } | undefined>;
        const t = twin.temperature?.actual?.value;
        return { n: t === undefined ? 0 : Math.round(Number(t) * 1000), mode: twin.mode?.actual?.value, power: twin.power?.actual?.value, version: got.version as number };
      }),
    );
  } finally {
    await reader.close();
  }
}

/** After the load: every PUBACKed update answered, the final twins the last ones sent, whole. */
async function expectNothingLost(mosquitto: Mosquitto, recorder: Recorder, publisher: Publisher, why: (s: string) => string): Promise<number> {
  const missing = (): string[] => DEVICES.flatMap((d) => [...publisher.acked.get(d)!].filter((n) => !recorder.answered.has(`${d}:${n}`)).map((n) => `${d}:${n}`));
  await eventually(async () => (missing().length === 0 ? true : undefined), 90_000).catch(() => undefined);
  expect(missing().slice(0, 10), why('every update mosquitto PUBACKed was applied and answered')).toEqual([]);
  expect(recorder.errors.slice(0, 10), why('no update was refused')).toEqual([]);
  const finals = await finalTwins(mosquitto.url);
  for (const [i, d] of DEVICES.entries()) {
    const f = finals[i]!;
    expect(f.n, why(`${d}: the twin holds the last update sent`)).toBe(publisher.maxSent(d));
    expect([f.mode, f.power], why(`${d}: update ${f.n} applied whole`)).toEqual([MODES[f.n % 3], String(f.n % 2 === 0)]);
  }
  return publisher.ackedCount();
}

describe.skipIf(!BUILT || SKIP_WITHOUT_MOSQUITTO)('external mode under QoS 1 load: kills and broker restarts', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function setUp(): { dir: string; args: (url: string) => string[] } {
    const tmp = tempDir('edgetwin-ext-crash-');
    cleanups.push(() => tmp.cleanup());
    writeManifests(path.join(tmp.dir, 'devices'), Object.fromEntries(DEVICES.map((d) => [`${d}.yaml`, thermostatManifest(d)])));
    const config = path.join(tmp.dir, 'edgetwin.json');
    // Answers at QoS 1, so a result is never the thing lost; a quick reconnect for the restarts.
    writeFileSync(config, JSON.stringify({ mqtt: { answerQos: 1, external: { reconnectBaseMs: 100, reconnectMaxMs: 500 } } }));
    return { dir: tmp.dir, args: (url) => [...edgeArgs(tmp.dir), '--config', config, '--no-metrics', '--mqtt-mode', 'external', '--mqtt-url', url] };
  }

  it('10 SIGKILLs of edgetwin: every update mosquitto accepted is applied afterwards', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = prng(seed);
    const { dir, args } = setUp();
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.close());
    let kills = 0;
    const why = (s: string): string => `${s} (seed ${seed}, after ${kills} kills)`;
    // The first start creates edgetwin's session (its QoS 1 subscriptions) at mosquitto.
    let edge: RunningEdge = await spawnEdge(args(mosquitto.url));
    cleanups.push(async () => void (await edge.stop('SIGKILL')));
    const recorder = await Recorder.connect(mosquitto.url);
    cleanups.push(() => recorder.client.endAsync(true));
    const publisher = await Publisher.connect(mosquitto.url, recorder);
    cleanups.push(() => publisher.client.endAsync(true));
    recorder.client.on('message', () => publisher.poke());
    publisher.poke();
    for (; kills < 10; ) {
      // The random moment: after k more answers (k from 10 to 300), commits in flight.
      const target = recorder.answered.size + 10 + Math.floor(random() * 290);
      await within(eventually(async () => (recorder.answered.size >= target ? true : undefined), 60_000), 65_000, why(`${target} answers`));
      await edge.stop('SIGKILL');
      kills++;
      // mosquitto keeps accepting (and queueing) updates while edgetwin is down.
      edge = await spawnEdge(args(mosquitto.url));
    }
    await publisher.stop();
    const accepted = await expectNothingLost(mosquitto, recorder, publisher, why);
    expect(await edge.stop('SIGTERM')).toBe(0);
    const db = new Database(path.join(dir, 'data', 'edgetwin.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    expect(accepted).toBeGreaterThan(500);
    console.log(`external mode: seed ${seed}, ${kills} SIGKILLs, ${accepted} QoS 1 updates accepted by mosquitto, 0 lost`);
  }, 240_000);

  it('mosquitto restarted under load (SIGTERM, same port and persistence): nothing lost, edgetwin reconnects by itself', async () => {
    const { args } = setUp();
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.close());
    const edge = await spawnEdge(args(mosquitto.url));
    cleanups.push(async () => void (await edge.stop('SIGKILL')));
    const recorder = await Recorder.connect(mosquitto.url);
    cleanups.push(() => recorder.client.endAsync(true));
    const publisher = await Publisher.connect(mosquitto.url, recorder);
    cleanups.push(() => publisher.client.endAsync(true));
    recorder.client.on('message', () => publisher.poke());
    publisher.poke();
    const why = (s: string): string => s;
    for (let restart = 0; restart < 3; restart++) {
      const target = recorder.answered.size + 200;
      await eventually(async () => (recorder.answered.size >= target ? true : undefined), 60_000);
      await mosquitto.stop('SIGTERM');
      await mosquitto.start();
      // Everyone reconnects by themselves; the load resumes.
      publisher.poke();
    }
    await publisher.stop();
    const accepted = await expectNothingLost(mosquitto, recorder, publisher, why);
    expect(edge.child.exitCode, 'edgetwin kept running').toBeNull();
    expect(edge.output().stderr).toMatch(/MQTT connection lost; reconnecting/);
    expect(edge.output().stderr, 'no answer given up').not.toContain('could not publish');
    expect(await edge.stop('SIGTERM')).toBe(0);
    console.log(`external mode: 3 mosquitto restarts under load, ${accepted} QoS 1 updates accepted, 0 lost`);
  }, 240_000);
});
