// (e) Modbus (issue 3's benchmark). 0: the driver's request rate and latency against the
// simulator over loopback TCP, one request outstanding (a figure, not a test: it depends on the
// machine). 1: requests per poll cycle for 200 properties over 10 units,
// coalesced vs one request per property vs the fewest the protocol allows (goal: within 10 % of
// that minimum). 2: 1,000 properties at 1 Hz (10 units × 100 float registers, every reading
// reported) against the simulator in its own process: sustained properties/s, the edgetwin
// process's CPU, poll latency, and reading-to-twin latency from the runtime's publish of a
// reading to its commit and answer (goal: p99 < 20 ms on one core).

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../edgecore/index.js';
import type { Bus } from '../eventbus/index.js';
import { MapperRuntime, modbusMapper } from '../mappers/index.js';
import { measureCoalescing, measureReadThroughput } from '../simulators/index.js';
import { fmt, percentile, printTable, startBenchEdge, type ResultRow } from './lib.js';

export interface ModbusBenchOptions {
  readonly units: number;
  readonly propertiesPerUnit: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  /** How long (e0) reads back to back. */
  readonly throughputMs: number;
}

const MODEL = 'bench-sensor';

function writeFixture(dir: string, o: ModbusBenchOptions, port: number): void {
  const names = Array.from({ length: o.propertiesPerUnit }, (_, i) => `p${String(i).padStart(3, '0')}`);
  const properties = Object.fromEntries(names.map((n) => [n, { type: 'number', minimum: 0, maximum: 1000, readOnly: true }]));
  mkdirSync(path.join(dir, 'models'), { recursive: true });
  writeFileSync(path.join(dir, 'models', `${MODEL}.json`), JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: MODEL, type: 'object', properties, additionalProperties: false }));
  // Each property one float32 in two input registers, back to back; reportCycle 1 ms reports
  // every reading, changed or not (the twin path's worst case at this rate).
  const visitor = (i: number): string =>
    `      collectCycle: 1000\n      reportCycle: 1\n      visitors:\n        protocolName: modbus\n        configData: { register: InputRegister, offset: ${2 * i}, limit: 2, dataType: float }\n`;
  const doc = (u: number): string =>
    `apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata:\n  name: unit-${u}\n  namespace: default\nspec:\n  deviceModelRef:\n    name: ${MODEL}\n  protocol:\n    protocolName: modbus\n    configData: { communicateMode: TCP, ip: 127.0.0.1, port: "${port}", slaveID: ${u} }\n  properties:\n` +
    names.map((n, i) => `    - name: ${n}\n${visitor(i)}`).join('');
  mkdirSync(path.join(dir, 'devices'), { recursive: true });
  writeFileSync(path.join(dir, 'devices', 'units.yaml'), Array.from({ length: o.units }, (_, u) => doc(u + 1)).join('---\n'));
}

/** The simulator child: resolves with it and its port once it listens. */
function startSimulator(dir: string): Promise<{ child: ChildProcessWithoutNullStreams; port: number; stop(): Promise<number> }> {
  const script = fileURLToPath(new URL('./modbus-sim-child.js', import.meta.url));
  const child = spawn(process.execPath, [script, dir]);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines = (): string[] => out.trim().split('\n').filter(Boolean);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`Modbus simulator exited ${code}: ${err}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const first = lines()[0];
      if (first === undefined || lines().length > 1) return;
      const { port } = JSON.parse(first) as { port: number };
      resolve({
        child,
        port,
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done((JSON.parse(lines()[1] ?? '{"requests":0}') as { requests: number }).requests));
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

export async function benchModbus(o: ModbusBenchOptions): Promise<ResultRow[]> {
  const t = await measureReadThroughput({ durationMs: o.throughputMs });
  const throughput: ResultRow = { requests: t.requests, requestsPerSecond: t.requestsPerSecond, p50Ms: t.p50Ms, p99Ms: t.p99Ms };
  printTable(`(e0) Modbus driver ⇄ simulator over loopback TCP, one request of 10 holding registers outstanding, ${fmt(o.throughputMs / 1000, 1)} s`, ['requests/s', 'p50 ms', 'p99 ms'], [
    [fmt(t.requestsPerSecond), fmt(t.p50Ms, 3), fmt(t.p99Ms, 3)],
  ]);
  const c = measureCoalescing({ units: 10, perUnit: 20 });
  const coalescing: ResultRow = { properties: c.properties, units: c.units, coalesced: c.coalesced, naive: c.naive, minimum: c.minimum, overMinimum: c.coalesced / c.minimum - 1 };
  printTable('(e1) Modbus requests per poll cycle, 200 properties over 10 units (planner, typical register map with gaps)', ['coalesced', 'one per property', 'protocol minimum', 'coalesced vs minimum'], [
    [fmt(c.coalesced), fmt(c.naive), fmt(c.minimum), `+${fmt(100 * (c.coalesced / c.minimum - 1), 1)} %`],
  ]);

  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-modbus-'));
  writeFixture(dir, o, 502); // the simulator ignores the port; edgetwin gets the real one below
  const sim = await startSimulator(dir);
  writeFixture(dir, o, sim.port);
  const edge = await startBenchEdge(0, undefined, { models: [path.join(dir, 'models')], devices: [path.join(dir, 'devices')] });
  const reading: number[] = [];
  const polls: number[] = [];
  let measuring = false;
  let reported = 0;
  let committed = 0;
  const stopChanges = edge.core.twin.onChange((change) => {
    if (measuring) committed += change.changed.length;
  });
  // The runtime's bus, with the publish of each reading timed through to its commit and answer
  // (an in-process publish resolves once the twin has ingested it).
  const bus: Bus = {
    subscribe: (filter, handler, options) => edge.core.bus.subscribe(filter, handler, options),
    publish: async (topic, payload, options) => {
      if (!topic.endsWith('/twin/update')) return edge.core.bus.publish(topic, payload, options);
      const t0 = performance.now();
      await edge.core.bus.publish(topic, payload, options);
      if (!measuring) return;
      reading.push(performance.now() - t0);
      reported += String(payload).split('"actual"').length - 1;
    },
  };
  const runtime = new MapperRuntime({ bus, factories: [modbusMapper], logger: silentLogger(), onPoll: (p) => measuring && p.ok && polls.push(p.seconds * 1000) });
  try {
    const problems = await runtime.setDevices(edge.core.twin.list().map((e) => ({ instance: e.instance, model: e.model })));
    const [problem] = problems;
    if (problem) throw problem;
    await sleep(o.warmupMs);
    measuring = true;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(o.windowMs);
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const totalPolls = runtime.status().reduce((n, s) => n + s.polls, 0);
    await runtime.stop();
    const requests = await sim.stop();
    const live: ResultRow = {
      properties: o.units * o.propertiesPerUnit,
      propertiesPerSecond: reported / seconds,
      changedPerSecond: committed / seconds,
      cpuPercentOfOneCore: (100 * (cpu.user + cpu.system)) / 1e6 / seconds,
      pollP50Ms: percentile(polls, 50),
      pollP99Ms: percentile(polls, 99),
      readingToTwinP50Ms: percentile(reading, 50),
      readingToTwinP99Ms: percentile(reading, 99),
      readingToTwinMaxMs: Math.max(...reading),
      requestsPerDevicePoll: requests / Math.max(1, totalPolls),
    };
    printTable(
      `(e2) Modbus: ${fmt(o.units * o.propertiesPerUnit)} properties at 1 Hz (${o.units} units × ${o.propertiesPerUnit} float registers, every reading reported), ${fmt(o.windowMs / 1000)} s window`,
      ['properties/s reported', 'properties/s changed', 'edgetwin CPU (one core)', 'poll p50 / p99 ms', 'reading → twin p50 / p99 / max ms', 'requests per device poll'],
      [[fmt(Number(live.propertiesPerSecond)), fmt(Number(live.changedPerSecond)), `${fmt(Number(live.cpuPercentOfOneCore), 1)} %`, `${fmt(Number(live.pollP50Ms), 2)} / ${fmt(Number(live.pollP99Ms), 2)}`, `${fmt(Number(live.readingToTwinP50Ms), 2)} / ${fmt(Number(live.readingToTwinP99Ms), 2)} / ${fmt(Number(live.readingToTwinMaxMs), 1)}`, fmt(Number(live.requestsPerDevicePoll), 2)]],
    );
    return [throughput, coalescing, live];
  } finally {
    stopChanges();
    await runtime.stop();
    if (sim.child.exitCode === null) await sim.stop();
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
