// `npm run bench`: every benchmark, medians over several runs, ratios against baselines
// measured in the same run. `--quick` runs each at tiny sizes (the smoke test CI runs).

import { benchCloudSync } from './cloudsync.js';
import { benchTwinThroughput } from './twin-throughput.js';

const quick = process.argv.includes('--quick');

async function main(): Promise<void> {
  console.log(`edgetwin benchmarks (${quick ? 'quick smoke run' : 'full'}), node ${process.version}, ${new Date().toISOString()}`);
  await benchTwinThroughput(quick ? { messagesPerPublisher: 200, runs: 1, window: 32 } : { messagesPerPublisher: 20_000, runs: 5, window: 64 });
  await benchCloudSync(quick ? { devices: 10, changesPerDevice: 10, streamInterval: 100, latencySamples: 10 } : { devices: 100, changesPerDevice: 10, streamInterval: 100, latencySamples: 100 });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
