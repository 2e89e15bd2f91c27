// Child process of crash.test.ts: commits numbered changes through SqliteTwinStore and prints
// each number once its commit has resolved, until the parent kills it with SIGKILL.
// Usage: node dist/devicetwin/store/crash-child.js <db path> <first number>
// TypeScript compiled with the rest (Node 20 cannot run .ts without a loader, and a plain .mjs
// would escape the type-aware lint); it is a few lines of dist/ that nothing imports.
import type { DeviceTwinState, TwinState } from '../types.js';
import { SqliteTwinStore } from './sqlite.js';

const [path, firstArg] = process.argv.slice(2);
if (path === undefined || firstArg === undefined) throw new Error('usage: crash-child.js <db path> <first number>');
const first = Number(firstArg);
// Parent gone (pipe closed): stop instead of committing forever.
process.stdout.on('error', () => process.exit(0));

const twin = (value: number): TwinState => ({
  optional: true, type: 'int', actual: { value: String(value), timestamp: Date.now() },
  expectedVersion: { cloud: 0, edge: 0 }, actualVersion: { cloud: 0, edge: value },
});
const device = (name: string, seq: number, version: number): DeviceTwinState =>
  ({ id: `crash/${name}`, namespace: 'crash', name, version, twins: { seq: twin(seq) }, state: 'unknown', lastOnline: '' });

const store = new SqliteTwinStore({ path });
await store.open();
process.stdout.write('ready\n');
// Bursts of concurrent commits, so kills land inside group commits of several callers.
for (let n = first; n < first + 1_000_000;) {
  const burst: Promise<void>[] = [];
  for (const end = n + 1 + (n % 17); n < end; n++) {
    const i = n;
    burst.push(store.commit([
      { kind: 'member', entry: { id: `crash/n-${i}`, namespace: 'crash', name: `n-${i}`, model: 'm', origin: 'manifest' } },
      { kind: 'twins', device: device(`n-${i}`, i, 1) },
      // Every commit also rewrites one shared row: its stored value is at least the highest ack.
      { kind: 'twins', device: device('last', i, i), changed: ['seq'] },
    ]).then(() => {
      process.stdout.write(`${i}\n`);
    }));
  }
  await Promise.all(burst);
}
await store.close();
