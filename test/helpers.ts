// Shared fixtures for cross-module tests: a real EdgeCore on port 0 in a temp dir, and real
// mqtt.js clients that await messages (with a timeout) instead of sleeping.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { resolveConfig, type RawConfig } from '../schemas/index.js';

export const EXAMPLES = path.resolve(import.meta.dirname, '..', 'examples');
export const REPO = path.resolve(import.meta.dirname, '..');

export function tempDir(prefix = 'edgetwin-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A Device manifest for the bundled thermostat model, for tests that need one quickly. */
export function thermostatManifest(name = 'thermo', namespace = 'default', extra = ''): string {
  return `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  deviceModelRef:
    name: thermostat
  nodeName: edge-test
  protocol:
    protocolName: external
  properties:
    - name: temperature
    - name: setpoint
    - name: mode
    - name: power
${extra}`;
}

export interface TestEdge {
  readonly core: EdgeCore;
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Starts a real EdgeCore on an ephemeral port, with `manifests` written into its devices folder. */
// Tests that edit manifests reload explicitly (core.reload()); the file watch is tested on its own
// (test/file-watch.test.ts), so it is off here unless a test asks for it.
export async function startEdge(manifests: Record<string, string>, config: RawConfig = {}, dir?: string): Promise<TestEdge> {
  const tmp = dir ? { dir, cleanup: () => undefined } : tempDir();
  const devicesDir = path.join(tmp.dir, 'devices');
  writeManifests(devicesDir, manifests);
  const core = new EdgeCore({
    config: resolveConfig({ nodeName: 'edge-test', dataDir: path.join(tmp.dir, 'data'), devices: [devicesDir], mqtt: { port: 0 }, log: { level: 'silent' }, watch: false, ...config }),
    logger: silentLogger(),
  });
  await core.start();
  return {
    core,
    url: core.brokerUrl,
    dir: tmp.dir,
    stop: async () => {
      await core.stop();
      if (!dir) tmp.cleanup();
    },
  };
}

export function writeManifests(devicesDir: string, manifests: Record<string, string>): void {
  rmSync(devicesDir, { recursive: true, force: true });
  mkdirSync(devicesDir, { recursive: true });
  for (const [file, text] of Object.entries(manifests)) writeFileSync(path.join(devicesDir, file), text);
}

export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly json: Record<string, unknown>;
}

/** A real MQTT client that records every message and lets a test await the next matching one. */
export class TestClient {
  readonly client: MqttClient;
  private readonly seen: Received[] = [];
  private waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void }> = [];

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload) => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        /* not JSON: keep the raw payload */
      }
      const m = { topic, payload, json };
      this.seen.push(m);
      const ready = this.waiters.filter((w) => w.match(m));
      this.waiters = this.waiters.filter((w) => !w.match(m));
      for (const w of ready) w.resolve(m);
    });
  }

  static async connect(url: string, subscriptions: string[] = ['$hw/#']): Promise<TestClient> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
    const tc = new TestClient(client);
    if (subscriptions.length > 0) await client.subscribeAsync(subscriptions, { qos: 1 });
    return tc;
  }

  /** Resolves with the first message (already seen since `from`, or future) on `topic` that matches. */
  next(topic: string, match: (json: Record<string, unknown>) => boolean = () => true, timeoutMs = 5000, from = 0): Promise<Received> {
    const test = (m: Received): boolean => m.topic === topic && match(m.json);
    const earlier = this.seen.slice(from).find(test);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (m: Received): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({ match: test, resolve: done });
    });
  }

  /** Messages seen so far on a topic. */
  on(topic: string): Received[] {
    return this.seen.filter((m) => m.topic === topic);
  }

  get count(): number {
    return this.seen.length;
  }

  async publish(topic: string, payload: string | Buffer | object, qos: 0 | 1 = 1): Promise<void> {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    await this.client.publishAsync(topic, body, { qos });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

export { eventually } from './async.js';
