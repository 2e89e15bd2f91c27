// (h) DMI. (h1) Reported values per second through ReportDeviceStatus into durable twins (each
// call answered after its commit), one twin per call as mapper-framework sends them and four per
// call as edgetwin's DMI mapper batches a device's cycle, with the same values over MQTT QoS 1
// measured in the same run as the baseline; the load comes from another process, as a mapper's. (h2) Latency from a desired value set over MQTT to
// the mapper's UpdateDevice carrying it. For scale: edgecore serves these calls behind one
// rate limiter of 1 call/s with a burst of 100 (kubeedge/kubeedge dmiserver/server.go).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { callUnary, dmiServices, LOCAL_CHANNEL_OPTIONS, UnixGrpcServer, unixTarget, type PbDevice } from '../dmi/index.js';
import { silentLogger } from '../edgecore/index.js';
import { connectClient, fmt, median, percentile, POWER_METER, printTable, runBenchChild, startBenchEdge, type ResultRow } from './lib.js';
import { noProgress, type FigureSink } from './progress.js';

export interface DmiBenchOptions {
  /** Told each figure as it is measured (bench/progress.ts). */
  readonly figure?: FigureSink;
  readonly devices: number;
  readonly calls: number;
  readonly channels: number;
  /** Calls in flight per channel. */
  readonly window: number;
  readonly latencySamples: number;
  readonly runs: number;
}

interface Throughput {
  readonly valuesPerSecond: number;
  /** CPU time of the edgetwin process (this one) per value, µs: what the load costs the edge. */
  readonly edgeCpuUsPerValue: number;
}

/** Values/s acknowledged by an edge with `o.devices` power meters, the load from a child process. */
async function perSecond(o: DmiBenchOptions, mode: 'dmi' | 'mqtt', perCall: number): Promise<Throughput> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-dmi-'));
  const socket = path.join(dir, 'dmi.sock');
  const edge = await startBenchEdge(o.devices, POWER_METER, mode === 'dmi' ? { dmi: { socket } } : {});
  try {
    const args = [mode, mode === 'dmi' ? socket : edge.url, o.devices, o.calls, o.channels, o.window, perCall].map(String);
    const cpu = process.cpuUsage();
    const { valuesPerSecond } = await runBenchChild<{ valuesPerSecond: number }>('dmi-load-child', args);
    const used = process.cpuUsage(cpu);
    const values = Math.ceil(o.calls / o.channels) * o.channels * perCall;
    return { valuesPerSecond, edgeCpuUsPerValue: (used.user + used.system) / values };
  } finally {
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ms from publishing a desired value over MQTT to the mapper's UpdateDevice handler seeing it. */
async function desiredLatency(o: DmiBenchOptions): Promise<number[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-bench-dmi-'));
  const socket = path.join(dir, 'dmi.sock');
  const mapperSocket = path.join(dir, 'mapper.sock');
  const edge = await startBenchEdge(Math.min(o.devices, 100), { model: 'thermostat', properties: ['temperature', 'setpoint'] }, { dmi: { socket } });
  const waiting = new Map<string, () => void>();
  const mapper = new UnixGrpcServer({
    socketPath: mapperSocket,
    what: 'the bench mapper socket',
    service: dmiServices().mapper,
    logger: silentLogger(),
    handlers: Object.fromEntries(
      ['RegisterDevice', 'RemoveDevice', 'UpdateDevice', 'CreateDeviceModel', 'RemoveDeviceModel', 'UpdateDeviceModel', 'GetDevice'].map((m) => [
        m,
        (req: { device?: PbDevice }) => {
          const setpoint = req.device?.spec?.properties?.find((p) => p.name === 'setpoint')?.desired?.value;
          if (m === 'UpdateDevice' && setpoint) waiting.get(`${req.device?.name ?? ''}=${setpoint}`)?.();
          return Promise.resolve({});
        },
      ]),
    ),
  });
  await mapper.start();
  const client = new grpc.Client(unixTarget(socket), grpc.credentials.createInsecure(), LOCAL_CHANNEL_OPTIONS);
  const mqtt = await connectClient(edge.url, 'bench-dmi-desired');
  try {
    // The bench devices' protocol is `external`: this mapper serves them.
    await callUnary(client, dmiServices().manager, 'MapperRegister', { withData: true, mapper: { name: 'bench', protocol: 'external', address: Buffer.from(mapperSocket), state: 'ok' } }, 1000);
    const samples: number[] = [];
    for (let i = 0; i < o.latencySamples; i++) {
      const devices = Math.min(o.devices, 100);
      const device = `bench-${i % devices}`;
      // Each sample a new value for its device (5.0, 5.1, … within the setpoint's 5..35).
      const value = String(5 + (Math.floor(i / devices) % 300) / 10);
      const seen = new Promise<void>((resolve) => waiting.set(`${device}=${value}`, resolve));
      const t0 = performance.now();
      await mqtt.publishAsync(`$hw/events/device/default/${device}/twin/update`, JSON.stringify({ event_id: '', timestamp: Date.now(), twin: { setpoint: { expected: { value } } } }), { qos: 1 });
      await seen;
      samples.push(performance.now() - t0);
      waiting.delete(`${device}=${value}`);
    }
    return samples;
  } finally {
    await mqtt.endAsync();
    client.close();
    await edge.stop();
    await mapper.close(100);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchDmi(o: DmiBenchOptions): Promise<ResultRow[]> {
  const figures = { dmi1: [] as Throughput[], dmi4: [] as Throughput[], mqtt1: [] as Throughput[], mqtt4: [] as Throughput[] };
  // Interleaved run by run, so machine noise falls on all of them alike.
  for (let r = 0; r < o.runs; r++) {
    figures.dmi1.push(await perSecond(o, 'dmi', 1));
    figures.mqtt1.push(await perSecond(o, 'mqtt', 1));
    figures.dmi4.push(await perSecond(o, 'dmi', 4));
    figures.mqtt4.push(await perSecond(o, 'mqtt', 4));
    (o.figure ?? noProgress)(`DMI vs MQTT, run ${r + 1}/${o.runs}`, `ReportDeviceStatus ${fmt(figures.dmi1.at(-1)!.valuesPerSecond)} values/s, MQTT ${fmt(figures.mqtt1.at(-1)!.valuesPerSecond)} values/s`);
  }
  const row = (label: string, runs: Throughput[]): ResultRow => ({
    path: label,
    valuesPerSecond: median(runs.map((t) => t.valuesPerSecond)),
    edgeCpuUsPerValue: median(runs.map((t) => t.edgeCpuUsPerValue)),
  });
  const rows: ResultRow[] = [
    row('ReportDeviceStatus, 1 twin per call (mapper-framework)', figures.dmi1),
    row('MQTT twin/update QoS 1, 1 property per message', figures.mqtt1),
    row('ReportDeviceStatus, 4 twins per call (a device cycle, edgetwin mapper)', figures.dmi4),
    row('MQTT twin/update QoS 1, 4 properties per message', figures.mqtt4),
  ];
  printTable(
    `(h1) DMI: reported values/s into durable twins (${o.devices} devices, ${o.channels} channels × ${o.window} calls in flight from another process, median of ${o.runs})`,
    ['path', 'values/s', 'vs MQTT', 'edgetwin CPU per value'],
    rows.map((r, i) => [
      String(r.path),
      fmt(Number(r.valuesPerSecond)),
      i % 2 === 0 ? `${fmt(Number(r.valuesPerSecond) / Number(rows[i + 1]!.valuesPerSecond), 2)} ×` : '1 ×',
      `${fmt(Number(r.edgeCpuUsPerValue))} µs`,
    ]),
  );
  const latency = await desiredLatency(o);
  const lat: ResultRow = { path: 'desired value over MQTT → UpdateDevice at the mapper', samples: latency.length, p50Ms: median(latency), p99Ms: percentile(latency, 99), maxMs: Math.max(...latency) };
  printTable(`(h2) DMI: latency from a desired value to the mapper's UpdateDevice (${latency.length} samples, one at a time)`, ['path', 'p50', 'p99', 'max'], [
    [String(lat.path), `${fmt(Number(lat.p50Ms), 2)} ms`, `${fmt(Number(lat.p99Ms), 2)} ms`, `${fmt(Number(lat.maxMs), 2)} ms`],
  ]);
  return [...rows, lat];
}
