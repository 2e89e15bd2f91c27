// Conversations replayed as KubeEdge's own code sends them, through tools no one here wrote
// (Debian's mosquitto_pub and mosquitto_sub), against a real `edgetwin run`. Each request is the
// exact JSON the Go code marshals:
// - kubeedge/examples traffic-light (message.go): actual reports with `metadata.type: "Updated"`,
//   and a mapper that reads ALL its lights from `twin` of every delta;
// - kubeedge/examples temperature-demo (temperature-mapper/main.go): a string reading with
//   "Updated";
// - kubeedge/mappers-go (mappers/common/event.go CreateMessageTwinUpdate, CreateMessageState): a
//   typed reading whose `actual.metadata` is `{}`, states in capitals, DISCONNECTED;
// - KubeEdge's integration tests (edge/test/integration/device): `{"state":"online","attributes":null}`.
// Every answer is checked field by field against what KubeEdge (edge/pkg/devicetwin, v1.23)
// would send: timestamps and fresh uuids by shape only, and edgetwin's documented additions
// (`version`, `ack`, `error_code`, `errors`: docs/mqtt-api.md) set aside before an exact compare.

import { requirePeer } from './peers.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, tempDir } from './helpers.js';
import { BUILT, runCli, spawnEdge, type RunningEdge } from './process.js';

const run = promisify(execFile);
const HAS_CLIENTS = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub');
// With CI=true a missing outside peer fails the run instead of skipping it.

const NODE = 'kind-worker';
const LIGHT = '$hw/events/device/default/traffic-light-instance-01';
const THERMO = '$hw/events/device/default/thermo-mqtt';
const LEGACY = '$hw/events/device/default/temperature';
const ANON = '$hw/events/device//twin/update/result';

const TS = expect.any(Number);
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const RFC3339 = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

/** A value as KubeEdge answers it: the value and the edge's timestamp. */
const v = (value: string): object => ({ value, metadata: { timestamp: TS } });

/** A MsgTwin as KubeEdge answers it (versions stripped). */
function twin(sides: { expected?: string; actual?: string }, type: string, optional = true): object {
  return {
    ...(sides.expected !== undefined ? { expected: v(sides.expected) } : {}),
    ...(sides.actual !== undefined ? { actual: v(sides.actual) } : {}),
    optional,
    metadata: { type },
  };
}

/** The fields edgetwin adds to KubeEdge's messages (docs/mqtt-api.md); everything else must match. */
const TOP_EXTRAS = ['version', 'error_code', 'errors'];

/** The message without edgetwin's additions, and which additions it had. */
function kubeedgeView(message: Record<string, unknown>): { view: Record<string, unknown>; extras: Set<string> } {
  const extras = new Set<string>();
  const strip = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(strip);
    if (typeof x !== 'object' || x === null) return x;
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(x)) {
      if (k === 'ack') extras.add(k);
      else out[k] = strip(val);
    }
    return out;
  };
  const view = strip(message) as Record<string, unknown>;
  for (const k of TOP_EXTRAS) {
    if (k in view) {
      extras.add(k);
      delete view[k];
    }
  }
  return { view, extras };
}

/** Asserts `message` is exactly `expected` once edgetwin's documented additions are set aside. */
function expectKubeEdge(message: Record<string, unknown>, expected: Record<string, unknown>, allowedExtras: readonly string[] = []): void {
  const { view, extras } = kubeedgeView(message);
  expect(view).toEqual(expected);
  expect([...extras].filter((e) => !allowedExtras.includes(e))).toEqual([]);
}

interface Msg {
  readonly topic: string;
  readonly json: Record<string, unknown>;
  /** The QoS mosquitto_sub received it at (from its -d output). */
  readonly qos: number;
}

/** mosquitto_sub on a set of filters, recording every message; stopped by its owner. */
class MosquittoSub {
  readonly messages: Msg[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(private readonly child: ChildProcess) {}

  static async start(port: number, filters: readonly string[]): Promise<MosquittoSub> {
    // -d prints the SUBACK (so we start once subscribed) and each PUBLISH header with its QoS;
    // stdbuf makes mosquitto_sub flush each line instead of at exit.
    const args = ['-oL', 'mosquitto_sub', '-d', '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-v', ...filters.flatMap((f) => ['-t', f])];
    const child = spawn('stdbuf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const sub = new MosquittoSub(child);
    let buffered = '';
    let lastQos = -1;
    let subacked = false;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('mosquitto_sub did not subscribe')), 10_000);
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const header = /received PUBLISH \(d\d, q(\d)/.exec(line);
          if (header) lastQos = Number(header[1]);
          else if (!subacked && line.includes('SUBACK')) {
            subacked = true;
            clearTimeout(timer);
            resolve();
          } else if (line.startsWith('$hw/')) {
            const space = line.indexOf(' ');
            sub.messages.push({ topic: line.slice(0, space), json: JSON.parse(line.slice(space + 1)) as Record<string, unknown>, qos: lastQos });
            for (const w of sub.waiters) w();
          }
        }
      });
    });
    await ready;
    return sub;
  }

  get count(): number {
    return this.messages.length;
  }

  /** The first message from index `from` on `topic` that satisfies `match`. */
  next(topic: string, from: number, match: (json: Record<string, unknown>) => boolean = () => true, timeoutMs = 10_000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.messages.slice(from).find((x) => x.topic === topic && match(x.json));
        if (!m) return false;
        this.waiters.delete(probe);
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const probe = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(probe);
        reject(new Error(`no message on ${topic} within ${timeoutMs} ms; got ${this.messages.slice(from).map((x) => x.topic).join(', ')}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(probe);
    });
  }

  /** Messages on `topic` received from index `from` on. */
  on(topic: string, from: number): Msg[] {
    return this.messages.slice(from).filter((m) => m.topic === topic);
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    return exited;
  }
}

function pub(port: number, topic: string, message: string): Promise<unknown> {
  return run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', message]);
}

const TRAFFIC_LIGHT_MODEL = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'traffic-light',
  type: 'object',
  properties: {
    red: { type: 'string', description: 'Indicates whether the led light is ON/OFF' },
    yellow: { type: 'string', description: 'Indicates whether the yellow light is ON/OFF' },
    green: { type: 'string', description: 'Indicates whether the green light is ON/OFF' },
  },
  additionalProperties: false,
};

const TEMPERATURE_DEMO_MODEL = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'temperature-demo',
  type: 'object',
  properties: { 'temperature-status': { type: 'string' } },
  additionalProperties: false,
};

const device = (name: string, model: string, properties: string, labels = ''): string => `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: ${name}
  namespace: default
${labels}spec:
  deviceModelRef:
    name: ${model}
  nodeName: ${NODE}
  protocol:
    protocolName: mqtt-mapper
  properties:
${properties}`;

describe.skipIf(!BUILT || !requirePeer('mosquitto-clients'))('KubeEdge conversations replayed with mosquitto_pub / mosquitto_sub', () => {
  const tmp = tempDir('edgetwin-replay-');
  let edge: RunningEdge;
  let sub: MosquittoSub;

  beforeAll(async () => {
    if (!HAS_CLIENTS) throw new Error('mosquitto_pub / mosquitto_sub are not installed (apt-get install mosquitto-clients)');
    const models = path.join(tmp.dir, 'models');
    const devices = path.join(tmp.dir, 'devices');
    mkdirSync(models, { recursive: true });
    mkdirSync(devices, { recursive: true });
    writeFileSync(path.join(models, 'traffic-light.json'), JSON.stringify(TRAFFIC_LIGHT_MODEL));
    writeFileSync(path.join(models, 'temperature-demo.json'), JSON.stringify(TEMPERATURE_DEMO_MODEL));
    // The temperature-sensor-demo DeviceModel, converted by the CLI.
    const converted = await runCli(['model', 'from-crd', path.join(EXAMPLES, 'kubeedge', 'temperature-model.yaml')]);
    expect(converted.code).toBe(0);
    writeFileSync(path.join(models, 'temperature-model.json'), converted.stdout);
    // The traffic light as its v1alpha2 CRD declared it: every light desired OFF but red.
    writeFileSync(
      path.join(devices, 'traffic-light.yaml'),
      device(
        'traffic-light-instance-01',
        'traffic-light',
        ['red', 'yellow', 'green'].map((l) => `    - name: ${l}\n      desired:\n        value: "${l === 'red' ? 'ON' : 'OFF'}"\n`).join(''),
        '  labels:\n    description: Light\n',
      ),
    );
    writeFileSync(path.join(devices, 'thermo-mqtt.yaml'), device('thermo-mqtt', 'temperature-model', '    - name: temperature\n    - name: temperature-switch\n'));
    writeFileSync(path.join(devices, 'temperature.yaml'), device('temperature', 'temperature-demo', '    - name: temperature-status\n'));
    // KubeEdge's default eventbus mode is an external broker, to which edgecore publishes at QoS 1.
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(config, 'mqtt:\n  answerQos: 1\n');
    edge = await spawnEdge([
      '--config', config, '--node-name', NODE, '--data-dir', path.join(tmp.dir, 'data'),
      '--models', models, '--devices', devices, '--mqtt-port', '0', '--log-level', 'warn',
    ]);
    sub = await MosquittoSub.start(edge.port, ['$hw/events/device/+/+/twin/update/+', '$hw/events/device/+/+/twin/get/result', '$hw/events/device/+/+/state/update/result', ANON, `$hw/events/node/${NODE}/membership/get/result`]);
  });

  afterAll(async () => {
    await sub?.stop();
    await edge?.stop();
    tmp.cleanup();
  });

  describe('traffic-light (kubeedge/examples traffic-light/message.go)', () => {
    // CreateActualDeviceStatus, as json.Marshal writes it (map keys sorted).
    const report = (red: string, yellow: string, green: string): string =>
      `{"event_id":"","timestamp":0,"twin":{"green":{"actual":{"value":"${green}"},"metadata":{"type":"Updated"}},"red":{"actual":{"value":"${red}"},"metadata":{"type":"Updated"}},"yellow":{"actual":{"value":"${yellow}"},"metadata":{"type":"Updated"}}}}`;

    /** OperateUpdateDetalSub: dereferences twin[red|yellow|green].expected.value of every delta. */
    function trafficLightReads(delta: Record<string, unknown>): string[] {
      const t = delta.twin as Record<string, { expected?: { value?: string } } | undefined>;
      return ['red', 'yellow', 'green'].map((light) => {
        const value = t[light]?.expected?.value;
        if (value === undefined) throw new Error(`the traffic-light mapper would crash: no twin.${light}.expected.value in the delta`);
        return value;
      });
    }

    it('the mapper\'s "Updated" report: result with only the actual side, document, and a delta listing ALL lights', async () => {
      const from = sub.count;
      await pub(edge.port, `${LIGHT}/twin/update`, report('OFF', 'OFF', 'OFF'));
      const result = await sub.next(`${LIGHT}/twin/update/result`, from);
      // dealTwinCompare on existing twins: the stored type (string), the actual side only.
      expectKubeEdge(result.json, {
        event_id: '',
        timestamp: TS,
        twin: { green: twin({ actual: 'OFF' }, 'string'), red: twin({ actual: 'OFF' }, 'string'), yellow: twin({ actual: 'OFF' }, 'string') },
      }, ['version']);
      const doc = await sub.next(`${LIGHT}/twin/update/document`, from);
      expectKubeEdge(doc.json, {
        event_id: '',
        timestamp: TS,
        twin: Object.fromEntries(
          ['green', 'red', 'yellow'].map((l) => {
            const expected = l === 'red' ? 'ON' : 'OFF';
            return [l, { last: twin({ expected }, 'string'), current: twin({ expected, actual: 'OFF' }, 'string') }];
          }),
        ),
      }, ['ack']);
      const delta = await sub.next(`${LIGHT}/twin/update/delta`, from);
      // BuildDeviceTwinDelta: every twin with an expected value, equal or not; delta only red.
      expectKubeEdge(delta.json, {
        event_id: UUID,
        timestamp: TS,
        twin: {
          green: twin({ expected: 'OFF', actual: 'OFF' }, 'string'),
          red: twin({ expected: 'ON', actual: 'OFF' }, 'string'),
          yellow: twin({ expected: 'OFF', actual: 'OFF' }, 'string'),
        },
        delta: { red: 'ON' },
      }, ['ack']);
      expect(trafficLightReads(delta.json)).toEqual(['ON', 'OFF', 'OFF']);
      // edgetwin answers at mqtt.answerQos (1 here, as KubeEdge's external-broker mode).
      for (const m of [result, doc, delta]) expect(m.qos).toBe(1);
    });

    it('an app switches green on and red off: the delta again carries every light', async () => {
      const from = sub.count;
      await pub(edge.port, `${LIGHT}/twin/update`, '{"event_id":"app-1","timestamp":1718000000000,"twin":{"green":{"expected":{"value":"ON"}},"red":{"expected":{"value":"OFF"}}}}');
      const result = await sub.next(`${LIGHT}/twin/update/result`, from);
      expectKubeEdge(result.json, { event_id: 'app-1', timestamp: TS, twin: { green: twin({ expected: 'ON' }, 'string'), red: twin({ expected: 'OFF' }, 'string') } }, ['version', 'ack']);
      const delta = await sub.next(`${LIGHT}/twin/update/delta`, from);
      expect(delta.json.event_id).not.toBe('app-1');
      expectKubeEdge(delta.json, {
        event_id: UUID,
        timestamp: TS,
        twin: {
          green: twin({ expected: 'ON', actual: 'OFF' }, 'string'),
          red: twin({ expected: 'OFF', actual: 'OFF' }, 'string'),
          yellow: twin({ expected: 'OFF', actual: 'OFF' }, 'string'),
        },
        delta: { green: 'ON' },
      }, ['ack']);
      expect(trafficLightReads(delta.json)).toEqual(['OFF', 'OFF', 'ON']);
    });

    it('twin/get answers every twin, versions stripped, with the request\'s event id', async () => {
      const from = sub.count;
      await pub(edge.port, `${LIGHT}/twin/get`, '{"event_id":"get-1","timestamp":0}');
      const got = await sub.next(`${LIGHT}/twin/get/result`, from);
      expectKubeEdge(got.json, {
        event_id: 'get-1',
        timestamp: TS,
        twin: {
          green: twin({ expected: 'ON', actual: 'OFF' }, 'string'),
          red: twin({ expected: 'OFF', actual: 'OFF' }, 'string'),
          yellow: twin({ expected: 'OFF', actual: 'OFF' }, 'string'),
        },
      }, ['version', 'ack']);
    });

    it('payloads KubeEdge cannot decode are answered with event_id "" on $hw/events/device//twin/update/result', async () => {
      const cases = [
        '{"event_id":"bad-1","twin":',                                              // not JSON
        '{"event_id":"bad-2","timestamp":0}',                                       // no `twin`
        '{"event_id":"bad-3","twin":{"red light":{"actual":{"value":"ON"}}}}',      // a key outside the regex
        '{"event_id":"bad-4","twin":{"red":{"actual":{"value":1}}}}',               // json.Unmarshal fails
      ];
      for (const payload of cases) {
        const from = sub.count;
        await pub(edge.port, `${LIGHT}/twin/update`, payload);
        const answer = await sub.next(ANON, from);
        // The reason is edgetwin's own sentence (docs/mqtt-api.md); the rest is KubeEdge's Result.
        expectKubeEdge(answer.json, { event_id: '', timestamp: TS, code: 400, reason: expect.any(String) }, ['error_code', 'errors']);
        expect(sub.on(`${LIGHT}/twin/update/result`, from)).toEqual([]);
      }
    });

    it('an unknown device: 404 with the request\'s event id on that device\'s result topic', async () => {
      const from = sub.count;
      await pub(edge.port, '$hw/events/device/default/nope/twin/update', '{"event_id":"n-1","timestamp":0,"twin":{"red":{"actual":{"value":"ON"}}}}');
      const answer = await sub.next('$hw/events/device/default/nope/twin/update/result', from);
      expectKubeEdge(answer.json, { event_id: 'n-1', timestamp: TS, code: 404, reason: expect.any(String) }, ['error_code']);
    });
  });

  describe('mappers-go (mappers/common/event.go) on the temperature-sensor-demo model', () => {
    it('a typed reading (actual.metadata {}) creates the twin, answered whole; "Updated" next answers the actual side', async () => {
      let from = sub.count;
      await pub(edge.port, `${THERMO}/twin/update`, '{"event_id":"","timestamp":1718000000000,"twin":{"temperature":{"actual":{"value":"25","metadata":{}},"metadata":{"type":"float"}}}}');
      const created = await sub.next(`${THERMO}/twin/update/result`, from);
      // dealTwinAdd: the whole new twin.
      expectKubeEdge(created.json, { event_id: '', timestamp: TS, twin: { temperature: twin({ actual: '25' }, 'float') } }, ['version']);
      const doc = await sub.next(`${THERMO}/twin/update/document`, from);
      expectKubeEdge(doc.json, { event_id: '', timestamp: TS, twin: { temperature: { last: null, current: twin({ actual: '25' }, 'float') } } });
      from = sub.count;
      await pub(edge.port, `${THERMO}/twin/update`, '{"event_id":"","timestamp":1718000001000,"twin":{"temperature":{"actual":{"value":"25.5","metadata":{}},"metadata":{"type":"Updated"}}}}');
      const updated = await sub.next(`${THERMO}/twin/update/result`, from);
      expectKubeEdge(updated.json, { event_id: '', timestamp: TS, twin: { temperature: twin({ actual: '25.5' }, 'float') } }, ['version']);
      const doc2 = await sub.next(`${THERMO}/twin/update/document`, from);
      expectKubeEdge(doc2.json, { event_id: '', timestamp: TS, twin: { temperature: { last: twin({ actual: '25' }, 'float'), current: twin({ actual: '25.5' }, 'float') } } });
      // No expected value anywhere: no delta (BuildDeviceTwinDelta skips twins without one).
      expect(sub.on(`${THERMO}/twin/update/delta`, 0)).toEqual([]);
    });

    it('states: the integration tests\' online, membership/get, then mappers-go OK, DISCONNECTED (ignored) and offline', async () => {
      let from = sub.count;
      await pub(edge.port, `${THERMO}/state/update`, '{"state":"online","attributes":null}');
      const online = await sub.next(`${THERMO}/state/update/result`, from);
      // dealDeviceStateUpdate → BuildDeviceCloudMsgState with BuildBaseMessage(): a fresh uuid.
      expectKubeEdge(online.json, { event_id: UUID, timestamp: TS, device: { name: 'thermo-mqtt', state: 'online', lastOnlineTime: RFC3339 } });

      from = sub.count;
      await pub(edge.port, `$hw/events/node/${NODE}/membership/get`, '{"event_id":"m-1","timestamp":0}');
      const members = await sub.next(`$hw/events/node/${NODE}/membership/get/result`, from);
      const devices = members.json.devices as Array<Record<string, unknown>>;
      expectKubeEdge({ ...members.json, devices: [] }, { event_id: 'm-1', timestamp: TS, devices: [] });
      // KubeEdge's dttype.Device, omitempty: no state or last_online before a state report.
      expect([...devices].sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([
        { id: 'default/temperature', name: 'temperature' },
        { id: 'default/thermo-mqtt', name: 'thermo-mqtt', state: 'online', last_online: RFC3339 },
        { id: 'default/traffic-light-instance-01', name: 'traffic-light-instance-01', description: 'Light' },
      ]);

      from = sub.count;
      await pub(edge.port, `${THERMO}/state/update`, '{"event_id":"","timestamp":1718000002000,"state":"OK","attributes":null}');
      const ok = await sub.next(`${THERMO}/state/update/result`, from);
      // The state is echoed as sent (validated case-insensitively).
      expectKubeEdge(ok.json, { event_id: UUID, timestamp: TS, device: { name: 'thermo-mqtt', state: 'OK', lastOnlineTime: RFC3339 } });

      from = sub.count;
      await pub(edge.port, `${THERMO}/state/update`, '{"event_id":"","timestamp":1718000003000,"state":"DISCONNECTED","attributes":null}');
      await pub(edge.port, `${THERMO}/state/update`, '{"event_id":"","timestamp":1718000004000,"state":"offline","attributes":null}');
      const offline = await sub.next(`${THERMO}/state/update/result`, from);
      // DISCONNECTED got no answer: the first one after it is offline's.
      expect(sub.on(`${THERMO}/state/update/result`, from)).toHaveLength(1);
      // KubeEdge blanks lastOnlineTime when offline (omitted); edgetwin keeps the last online
      // time, a documented difference (docs/mqtt-api.md).
      expect(offline.json).toEqual({ event_id: UUID, timestamp: TS, device: { name: 'thermo-mqtt', state: 'offline', lastOnlineTime: RFC3339 } });
    });
  });

  describe('temperature-demo (kubeedge/examples temperature-mapper/main.go)', () => {
    it('a string reading with "Updated" is accepted; the next answers only its actual side', async () => {
      let from = sub.count;
      await pub(edge.port, `${LEGACY}/twin/update`, '{"event_id":"","timestamp":0,"twin":{"temperature-status":{"actual":{"value":"25C"},"metadata":{"type":"Updated"}}}}');
      // KubeEdge accepts it once the twin exists (the v1alpha2 cloud created it); in edgetwin the
      // model declares it, so the first report is accepted too (docs/mqtt-api.md).
      const first = await sub.next(`${LEGACY}/twin/update/result`, from);
      expectKubeEdge(first.json, { event_id: '', timestamp: TS, twin: { 'temperature-status': twin({ actual: '25C' }, 'string') } }, ['version']);
      from = sub.count;
      await pub(edge.port, `${LEGACY}/twin/update`, '{"event_id":"","timestamp":0,"twin":{"temperature-status":{"actual":{"value":"26C"},"metadata":{"type":"Updated"}}}}');
      const next = await sub.next(`${LEGACY}/twin/update/result`, from);
      expectKubeEdge(next.json, { event_id: '', timestamp: TS, twin: { 'temperature-status': twin({ actual: '26C' }, 'string') } }, ['version']);
    });
  });
});
