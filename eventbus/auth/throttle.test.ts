// The login throttle's rules, without sockets: who is checked first, how many at once, and how
// refusals back off (test/security-sessions.test.ts runs them against a real broker).
import { describe, expect, it } from 'vitest';
import { deferred } from '../../test/async.js';
import { LoginThrottle } from './throttle.js';

/** A check the test finishes by hand, recording when it started. */
function gatedCheck(started: string[], name: string, ok: boolean): { check: () => Promise<boolean>; finish: () => void } {
  const gate = deferred();
  return {
    check: async () => {
      started.push(name);
      await gate.promise;
      return ok;
    },
    finish: () => gate.resolve(),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('LoginThrottle', () => {
  it('doubles the delay of each consecutive refusal per address and per name, up to the cap, and resets on success', async () => {
    const t = new LoginThrottle({ baseMs: 1, maxMs: 8, random: () => 0.5 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push((await t.run('10.0.0.1', 'root', () => Promise.resolve(false))).delayedMs);
    expect(delays).toEqual([1, 2, 4, 8, 8, 8]);
    // Another address guessing the same name is slowed as much: the name has failed 6 times.
    expect(await t.run('10.0.0.2', 'root', () => Promise.resolve(false))).toMatchObject({ ok: false, failures: 7, delayedMs: 8 });
    // The right password is answered at once and clears both the address and the name.
    expect(await t.run('10.0.0.1', 'root', () => Promise.resolve(true))).toEqual({ ok: true, delayedMs: 0, failures: 0 });
    expect(await t.run('10.0.0.1', 'root', () => Promise.resolve(false))).toMatchObject({ failures: 1, delayedMs: 1 });
    expect(t.backoffs).toBe(8);
  });

  it('forgets failures after 15 minutes without one', async () => {
    let now = 0;
    const t = new LoginThrottle({ baseMs: 1, maxMs: 8, random: () => 0.5, now: () => now });
    await t.run('10.0.0.1', 'a', () => Promise.resolve(false));
    await t.run('10.0.0.1', 'a', () => Promise.resolve(false));
    now += 15 * 60_000 + 1;
    expect(await t.run('10.0.0.1', 'a', () => Promise.resolve(false))).toMatchObject({ failures: 1 });
  });

  it('starts a clean login before waiting suspects, and runs at most one suspect at a time', async () => {
    const t = new LoginThrottle({ baseMs: 1, maxMs: 1, random: () => 0.5 });
    await t.run('10.0.0.9', 'root', () => Promise.resolve(false)); // the guesser is now a suspect
    const started: string[] = [];
    const guesses = [1, 2, 3].map((i) => gatedCheck(started, `guess-${i}`, false));
    const running = guesses.map((g) => t.run('10.0.0.9', 'root', g.check));
    await settle();
    expect(started).toEqual(['guess-1']); // one suspect; the other slot stays free

    const clean = gatedCheck(started, 'dash', true);
    const login = t.run('10.0.0.5', 'dash', clean.check);
    await settle();
    expect(started).toEqual(['guess-1', 'dash']); // beside the suspect, not behind it
    clean.finish();
    expect(await login).toMatchObject({ ok: true, delayedMs: 0 });

    // A second clean login while both slots are busy starts before the next guess.
    const busy = gatedCheck(started, 'ops', true);
    const ops = t.run('10.0.0.6', 'ops', busy.check);
    const late = gatedCheck(started, 'late', true);
    const lateLogin = t.run('10.0.0.7', 'late', late.check);
    await settle();
    guesses[0]!.finish();
    await settle();
    expect(started.slice(2)).toEqual(['ops', 'late']);
    busy.finish();
    late.finish();
    await Promise.all([ops, lateLogin]);
    for (const g of guesses) g.finish();
    const verdicts = await Promise.all(running);
    expect(verdicts.map((v) => v.ok)).toEqual([false, false, false]);
    expect(started.slice(4)).toEqual(['guess-2', 'guess-3']);
  });

  it('answers held-back refusals at once on close', async () => {
    const t = new LoginThrottle({ baseMs: 60_000, maxMs: 60_000 });
    const refusal = t.run('10.0.0.1', 'x', () => Promise.resolve(false));
    await settle();
    t.close();
    expect(await refusal).toMatchObject({ ok: false });
  });
});
