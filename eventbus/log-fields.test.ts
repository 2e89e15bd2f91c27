import { describe, expect, it } from 'vitest';
import { LOG_FIELD_CHARS, LogGate, logSafe } from './log-fields.js';

describe('logSafe', () => {
  it('keeps short strings and cuts long ones to a prefix, a hash and the length', () => {
    expect(logSafe('mapper-1')).toBe('mapper-1');
    expect(logSafe('x'.repeat(LOG_FIELD_CHARS))).toBe('x'.repeat(LOG_FIELD_CHARS));
    const a = logSafe(`${'a'.repeat(100)}1`);
    const b = logSafe(`${'a'.repeat(100)}2`);
    expect(a).toMatch(/^a{64}…#[0-9a-f]{8}\(101 chars\)$/);
    // Two long ids with the same prefix stay apart.
    expect(a).not.toBe(b);
    expect(logSafe(undefined)).toBeUndefined();
  });
});

describe('LogGate', () => {
  it('lets a burst through per client, then one line per second, and reports what it left out', () => {
    let now = 0;
    const gate = new LogGate({ perClientBurst: 3, perClientPerSecond: 1, totalBurst: 100, totalPerSecond: 100, now: () => now });
    const passed = Array.from({ length: 10 }, () => gate.admit('noisy'));
    expect(passed.filter((p) => p !== undefined)).toHaveLength(3);
    expect(gate.suppressed).toBe(7);
    // Another client has its own budget.
    expect(gate.admit('quiet')).toEqual({});
    now += 1_000;
    expect(gate.admit('noisy')).toEqual({ suppressed: 7 });
    expect(gate.admit('noisy')).toBeUndefined();
  });

  it('caps all clients together, and forgets the oldest client beyond maxClients', () => {
    const gate = new LogGate({ perClientBurst: 5, totalBurst: 4, totalPerSecond: 1, maxClients: 2, now: () => 0 });
    const passed = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => gate.admit(k));
    expect(passed.filter((p) => p !== undefined)).toHaveLength(4);
  });
});
