import { describe, expect, it } from 'vitest';

import { formatDuration, parseDuration, parseSize } from './durations.js';

describe('durations and sizes', () => {
  it('parse durations with a unit, or plain ms', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('2w')).toBe(1_209_600_000);
    expect(parseDuration(1234)).toBe(1234);
    for (const bad of ['', '1', '1.5h', '-1h', '1y', 'h', '1 h', -1, 1.5]) expect(parseDuration(bad), String(bad)).toBeUndefined();
  });

  it('parse sizes with a unit, or plain bytes', () => {
    expect(parseSize('256MiB')).toBe(256 * 2 ** 20);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize('10kB')).toBe(10_000);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize(1)).toBe(1);
    for (const bad of ['', 'MiB', '1.5GB', '-1', '1TB']) expect(parseSize(bad), bad).toBeUndefined();
  });

  it('format a duration in its largest whole unit', () => {
    expect(formatDuration(900_000)).toBe('15m');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(1500)).toBe('1500ms');
  });

  it('refuse a maximum-size input (the patterns are anchored and bounded: no backtracking)', () => {
    const long = '9'.repeat(1_000_000);
    expect(parseDuration(`${long}h`)).toBeUndefined();
    expect(parseSize(`${long}x`)).toBeUndefined();
  });
});
