// `npm run bench`: every benchmark, medians over several runs, ratios against baselines
// measured in the same run. `--quick` runs each at tiny sizes (the smoke test CI runs);
// `--only a,c` picks sections; `--runs N` overrides the runs per figure; `--json FILE` also
// writes every figure as JSON.

import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchCloudSync } from './cloudsync.js';
import { benchExternal } from './external.js';
import { benchDmi } from './dmi.js';
import { benchFootprint } from './footprint.js';
import { benchLatency } from './latency.js';
import { benchModbus } from './modbus.js';
import { benchRemoteWrite } from './remote-write.js';
import { BenchProgress, type FigureSink } from './progress.js';
import { benchHistoryCost, benchTwinThroughput } from './twin-throughput.js';
import { benchOutage, benchSinkCost } from './sinks.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = flag('--only')?.split(',');
const jsonFile = flag('--json');
const runs = (n: number): number => Number(flag('--runs') ?? n);

interface Section {
  /** Expected seconds of a full run on 2 cores (the progress line's estimate starts from it). */
  readonly estimateS: number;
  readonly run: (figure: FigureSink) => Promise<unknown>;
}

const sections: Record<string, Section> = {
  a: { estimateS: 420, run: (figure) => benchTwinThroughput(quick ? { messagesPerPublisher: 200, runs: 1, window: 32, figure } : { messagesPerPublisher: 20_000, runs: runs(5), window: 64, figure }) },
  // `--only a` runs this too (section ids match by substring); `--only a2` only this.
  a2: { estimateS: 150, run: (figure) => benchHistoryCost(quick ? { messagesPerPublisher: 200, runs: 1, window: 32, figure } : { messagesPerPublisher: 20_000, runs: runs(7), window: 64, figure }) },
  b: { estimateS: 60, run: (figure) => benchLatency(quick ? { rate: 1000, seconds: 0.5, warmupSeconds: 0.2, publishers: 2, runs: 1, figure } : { rate: 5000, seconds: 5, warmupSeconds: 1, publishers: 10, runs: runs(3), figure }) },
  cd: { estimateS: 300, run: (figure) => benchFootprint(quick ? { sizes: [0, 200], restartDevices: 200, runs: 1, idleMs: 100, figure } : { sizes: [0, 10_000, 100_000], restartDevices: 100_000, runs: runs(3), idleMs: 2000, figure }) },
  e: { estimateS: 40, run: () => benchModbus(quick ? { units: 2, propertiesPerUnit: 20, warmupMs: 1200, windowMs: 1500, throughputMs: 200 } : { units: 10, propertiesPerUnit: 100, warmupMs: 2000, windowMs: 20_000, throughputMs: 3000 }) },
  f: { estimateS: 60, run: () => benchCloudSync(quick ? { devices: 10, changesPerDevice: 10, streamInterval: 100, latencySamples: 10 } : { devices: 100, changesPerDevice: 10, streamInterval: 100, latencySamples: 100 }) },
  g: { estimateS: 180, run: (figure) => benchExternal(quick ? { messages: 200, runs: 1, window: 16, figure } : { messages: 20_000, runs: runs(3), window: 64, figure }) },
  h: {
    estimateS: 120,
    run: (figure) =>
      benchDmi(
        quick
          ? { devices: 10, calls: 200, channels: 1, window: 8, latencySamples: 10, runs: 1, figure }
          : { devices: 100, calls: 20_000, channels: 1, window: 64, latencySamples: 200, runs: runs(3), figure },
      ),
  },
  rw: { estimateS: 15, run: (figure) => benchRemoteWrite(quick ? { sizes: [100, 1000], runs: 2, figure } : { sizes: [100, 1000, 10_000], runs: runs(15), figure }) },
  // pushMethod/dbMethod sinks and their outbox (docs/telemetry.md). s2's hours: --outage-hours (default 1; 24 writes ~10 GB).
  s1: { estimateS: 60, run: () => benchSinkCost(quick ? { values: 50, batch: 50, runs: 1 } : { values: 5000, batch: 500, runs: runs(3) }) },
  s2: { estimateS: 120, run: () => benchOutage(quick ? { properties: 10, hours: 0.01 } : { properties: 1000, hours: Number(flag('--outage-hours') ?? 1) }) },
};

async function main(): Promise<void> {
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` };
  console.log(`edgetwin benchmarks (${quick ? 'quick smoke run' : 'full'}), ${new Date().toISOString()}`);
  console.log(`machine: ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.platform}`);
  const results: Record<string, unknown> = {};
  const chosen = Object.entries(sections).filter(([id]) => !only || only.some((o) => id.includes(o)));
  // A quick run is a few seconds a section: its estimate is scaled down alike.
  const progress = new BenchProgress(chosen.map(([id, s]) => ({ id, estimateS: quick ? Math.max(1, s.estimateS / 60) : s.estimateS })));
  for (const [id, section] of chosen) {
    const t0 = performance.now();
    progress.startSection(id);
    results[id] = (await section.run((label, value) => progress.figure(label, value))) ?? null;
    progress.endSection();
    const seconds = (performance.now() - t0) / 1000;
    console.log(`\n(section ${id}: ${seconds.toFixed(1)} s)`);
    progress.figure(`section ${id} done`, `${seconds.toFixed(1)} s`);
  }
  if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ quick, machine, date: new Date().toISOString(), results }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
