// Regenerates the table in docs/errors.md from errors.ts (via the build in dist/).
// `npm run build && node scripts/errors-doc.mjs`; errors.test.ts checks the two agree.
import { readFileSync, writeFileSync } from 'node:fs';

const { ERROR_CODES } = await import(new URL('../dist/errors.js', import.meta.url).href);
const file = new URL('../docs/errors.md', import.meta.url);
const doc = readFileSync(file, 'utf8');
const rows = Object.entries(ERROR_CODES).map(([code, { status, summary }]) => `| \`${code}\` | ${status} | ${summary.replaceAll('|', '\\|')} |`);
const table = ['| code | status | meaning |', '|---|---|---|', ...rows].join('\n');
const out = doc.replace(/<!-- codes:start -->[\s\S]*<!-- codes:end -->/, `<!-- codes:start -->\n${table}\n<!-- codes:end -->`);
writeFileSync(file, out);
console.log(`docs/errors.md: ${rows.length} codes`);
