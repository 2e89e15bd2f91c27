// The last lines of `npm test` (scripts/summary.mjs): every skipped test named, a suite that
// failed to load counted as a failure, a non-zero vitest exit never reported as 0 failed.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers.js';

const tmp = tempDir('edgetwin-summary-');
afterAll(() => tmp.cleanup());

function summary(report: unknown, rc: number): string[] {
  const file = path.join(tmp.dir, `report-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(report));
  return execFileSync(process.execPath, [path.join(REPO, 'scripts', 'summary.mjs'), file, String(rc)], { cwd: REPO, encoding: 'utf8' }).trimEnd().split('\n');
}

const suite = (name: string, status: string, tests: Array<[string, string]>): unknown => ({
  name: path.join(REPO, name),
  status,
  assertionResults: tests.map(([fullName, s]) => ({ fullName, title: fullName, status: s })),
});

describe('npm test summary', () => {
  it('names every skipped test, then the counts', () => {
    const lines = summary(
      {
        numPassedTests: 3,
        numFailedTests: 0,
        numPendingTests: 2,
        numTodoTests: 0,
        testResults: [suite('test/a.test.ts', 'passed', [['a works', 'passed'], ['a needs mosquitto', 'skipped']]), suite('test/b.test.ts', 'passed', [['b one', 'passed'], ['b two', 'passed'], ['b needs chromium', 'pending']])],
      },
      0,
    );
    expect(lines).toEqual(['skipped: test/a.test.ts > a needs mosquitto', 'skipped: test/b.test.ts > b needs chromium', '3 passed, 0 failed, 2 skipped']);
  });

  it('counts a suite that failed to load, and a failed exit with no failed test, as failures', () => {
    const broken = summary({ numPassedTests: 1, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [suite('test/c.test.ts', 'failed', []), suite('test/d.test.ts', 'passed', [['d', 'passed']])] }, 1);
    expect(broken.at(-1)).toBe('1 passed, 1 failed, 0 skipped');
    const unhandled = summary({ numPassedTests: 1, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [suite('test/d.test.ts', 'passed', [['d', 'passed']])] }, 1);
    expect(unhandled).toEqual(['(vitest exited 1 with no failed test: an unhandled error above counts as one failure)', '1 passed, 1 failed, 0 skipped']);
  });
});
