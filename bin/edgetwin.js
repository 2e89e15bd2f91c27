#!/usr/bin/env node
// The `edgetwin` command: runs the compiled CLI (npm ci builds it through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('error EDGETWIN_ERR_INTERNAL: edgetwin is not built; run `npm ci` (or `npm run build`) in the repository first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
