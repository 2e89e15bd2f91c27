import { describe, expect, it } from 'vitest';

import { parseHistoryParams, parseTime } from './history-request.js';

const NOW = Date.parse('2024-06-10T12:00:00Z');
const H = 3_600_000;

function code(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('parseHistoryParams', () => {
  it('defaults to the last hour, every property and kind, no step', () => {
    expect(parseHistoryParams({}, NOW)).toEqual({ since: NOW - H, until: NOW });
  });

  it('reads times as ISO 8601, ms since the epoch, a duration ago or now', () => {
    expect(parseTime('since', '2024-06-10T06:00:00Z', NOW, 0)).toBe(Date.parse('2024-06-10T06:00:00Z'));
    expect(parseTime('since', '2024-06-10T06:00:00.250+02:00', NOW, 0)).toBe(Date.parse('2024-06-10T04:00:00.250Z'));
    expect(parseTime('since', '2024-06-10', NOW, 0)).toBe(Date.parse('2024-06-10T00:00:00Z'));
    expect(parseTime('since', '1718000000000', NOW, 0)).toBe(1718000000000);
    expect(parseTime('since', 1718000000000, NOW, 0)).toBe(1718000000000);
    expect(parseTime('since', '15m', NOW, 0)).toBe(NOW - 900_000);
    expect(parseTime('since', 'now', NOW, 0)).toBe(NOW);
    expect(parseTime('since', undefined, NOW, 42)).toBe(42);
  });

  it('takes lists as arrays or comma-separated, without duplicates', () => {
    expect(parseHistoryParams({ properties: ['temperature', 'setpoint,mode', 'temperature'], kinds: 'reported, ack' }, NOW)).toMatchObject({
      properties: ['temperature', 'setpoint', 'mode'],
      kinds: ['reported', 'ack'],
    });
    expect(parseHistoryParams({ properties: [], kinds: '' }, NOW)).toEqual({ since: NOW - H, until: NOW });
  });

  it('takes a step as a duration or ms', () => {
    expect(parseHistoryParams({ step: '1m' }, NOW).stepMs).toBe(60_000);
    expect(parseHistoryParams({ step: 500 }, NOW).stepMs).toBe(500);
    expect(parseHistoryParams({ step: '250' }, NOW).stepMs).toBe(250);
  });

  it.each([
    [{ since: 'yesterday' }, /since "yesterday" is not a time/],
    [{ since: '2024-13-45T99:00:00Z' }, /is not a time/],
    [{ until: -5 }, /until -5 is not a time/],
    [{ since: '1h', until: '2h' }, /must be before until/],
    [{ since: 'now' }, /must be before until/],
    [{ step: '0' }, /step "0" is not a duration/],
    [{ step: '1.5m' }, /step "1.5m" is not a duration/],
    [{ step: true }, /step true is not a duration/],
    [{ kinds: ['latest'] }, /kind "latest" is not one of reported, desired, ack/],
    [{ properties: [3] }, /property must be a list of names/],
    [{ properties: ['a b'] }, /property "a b" is not a property name/],
    [{ properties: Array.from({ length: 2000 }, (_, i) => `p${i}`) }, /at most 1024/],
  ])('refuses %o with EDGETWIN_ERR_HISTORY_QUERY', (params, message) => {
    expect(code(() => parseHistoryParams(params, NOW))).toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_QUERY', message: expect.stringMatching(message) });
  });

  it('refuses a maximum-size input at once (anchored, bounded patterns)', () => {
    const long = '9'.repeat(1_000_000);
    expect(code(() => parseHistoryParams({ since: `${long}x` }, NOW))).toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_QUERY' });
    expect(code(() => parseHistoryParams({ since: `2024-06-10T${long}` }, NOW))).toMatchObject({ code: 'EDGETWIN_ERR_HISTORY_QUERY' });
  });
});
