// Benchmark plumbing: repeated runs, medians, free ports, a private mosquitto, table output,
// benchmark edge nodes in temp dirs, and child processes for fresh-heap measurements.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { resolveConfig, type RawConfig } from '../schemas/index.js';

/** One row of a benchmark's results, as run.ts writes them to --json. */
export type ResultRow = Readonly<Record<string, string | number>>;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));

/** The config lines startMosquitto uses by default: no persistence, no queue or in-flight limits. */
export const MOSQUITTO_UNLIMITED = ['persistence false', 'max_queued_messages 0', 'max_inflight_messages 0'] as const;

/** A private mosquitto on a free loopback port (`lines` after the listener), or undefined if not installed. */
export async function startMosquitto(lines: readonly string[] = MOSQUITTO_UNLIMITED): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  if (!MOSQUITTO) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-mosq-'));
  const conf = path.join(dir, 'm.conf');
  const config = lines.map((l) => l.replaceAll('$DIR', dir));
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nuser root\n${config.join('\n')}\n`);
  const child: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const url = `mqtt://127.0.0.1:${port}`;
  // Wait until it accepts connections.
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

/** An mqtt.js client with Nagle off (mqtt.js has no option for it; its socket is `stream`). */
export async function connectClient(url: string, clientId: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 });
  (c.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  return c;
}

/** A `twin/update` reporting one temperature: ~150 bytes, the shape a mapper sends. */
export function temperatureUpdate(eventId: string, n: number): string {
  return JSON.stringify({ event_id: eventId, timestamp: 1718000000000 + n, twin: { temperature: { actual: { value: ((n % 1000) / 10).toFixed(1) }, metadata: { type: 'float' } } } });
}

export interface ManifestOptions {
  readonly model: string;
  readonly properties: readonly string[];
  readonly prefix?: string;
}

/** Writes `count` Device manifests (one multi-document YAML file) of `model` into `dir`. */
export function writeDeviceManifests(dir: string, count: number, o: ManifestOptions): void {
  mkdirSync(dir, { recursive: true });
  const props = o.properties.map((p) => `    - name: ${p}\n`).join('');
  const doc = (i: number): string =>
    `apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata:\n  name: ${o.prefix ?? 'bench'}-${i}\n  namespace: default\nspec:\n  deviceModelRef:\n    name: ${o.model}\n  protocol:\n    protocolName: external\n  properties:\n${props}`;
  writeFileSync(path.join(dir, 'devices.yaml'), Array.from({ length: count }, (_, i) => doc(i)).join('---\n'));
}

export const THERMOSTAT: ManifestOptions = { model: 'thermostat', properties: ['temperature'] };
export const POWER_METER: ManifestOptions = { model: 'power-meter', properties: ['voltage', 'current', 'power', 'energy', 'relay'] };

/**
 * mqtt.limits for benchmarks: the per-client publish rate (default 2,000/s, burst 4,000) would
 * cap a single publisher, and maxDevices (default 10,000) the memory benchmark, so both are
 * lifted to measure the twin path itself.
 */
export const BENCH_LIMITS = { publishRatePerClient: 10_000_000, publishBurstPerClient: 10_000_000, maxDevices: 10_000_000 } as const;

export interface BenchEdge {
  readonly core: EdgeCore;
  readonly dir: string;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * An EdgeCore in a temp dir with `devices` manifests, MQTT on a free port, no in-process
 * mappers, and metrics on (port 0) as in production, unless `config` says otherwise.
 */
export async function startBenchEdge(devices: number, manifests: ManifestOptions = THERMOSTAT, config: RawConfig = {}): Promise<BenchEdge> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-'));
  writeDeviceManifests(path.join(dir, 'devices'), devices, manifests);
  const core = new EdgeCore({
    config: resolveConfig({
      dataDir: path.join(dir, 'data'),
      devices: [path.join(dir, 'devices')],
      mqtt: { port: 0, limits: BENCH_LIMITS },
      metrics: { port: 0 },
      mappers: { enabled: [] },
      log: { level: 'silent' },
      ...config,
    }),
    logger: silentLogger(),
  });
  await core.start();
  return {
    core,
    dir,
    url: core.brokerUrl,
    stop: async () => {
      await core.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a compiled bench script (dist/bench/<name>.js) in a fresh Node process and returns the
 * JSON object it prints on its last stdout line. Memory and start-up are measured this way, so
 * nothing the parent allocated or compiled counts.
 */
export function runBenchChild<T>(name: string, args: readonly string[], execArgv: readonly string[] = []): Promise<T> {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${name} ${args.join(' ')} exited ${code}: ${err || out}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${name} printed no JSON result: ${out}${err}`));
      }
    });
  });
}

/** Wall-clock milliseconds of `fn`. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

export function pct(part: number, whole: number): string {
  return `${fmt((100 * part) / whole)} %`;
}
