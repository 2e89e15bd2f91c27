// The last lines of `npm test` (scripts/test.sh): every skipped test by name, so a skip is never
// silent (test/peers.ts says why each peer is needed), then the plain `N passed, N failed, N
// skipped` line CI reads. Usage: node scripts/summary.mjs <vitest JSON report> <vitest exit code>
import { readFileSync } from 'node:fs';

const [file, rcText] = process.argv.slice(2);
const r = JSON.parse(readFileSync(file, 'utf8'));
const suites = r.testResults ?? [];
// A suite that fails to load (import error, failing hook) has no failed test of its own: it
// counts as one failure, so it can never pass silently.
const brokenSuites = suites.filter((s) => s.status === 'failed' && !(s.assertionResults ?? []).some((a) => a.status === 'failed')).length;
const rc = Number(rcText);
let failed = r.numFailedTests + brokenSuites;
// vitest exits non-zero on an unhandled error even when every test passed: that counts too, so
// this line never says 0 failed for a run that failed.
if (rc !== 0 && failed === 0) {
  failed = 1;
  console.log(`(vitest exited ${rc} with no failed test: an unhandled error above counts as one failure)`);
}
const root = `${process.cwd()}/`;
for (const s of suites) {
  for (const a of s.assertionResults ?? []) {
    if (a.status === 'skipped' || a.status === 'pending' || a.status === 'todo') console.log(`skipped: ${s.name.replace(root, '')} > ${a.fullName || a.title}`);
  }
}
console.log(`${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
