import { describe, expect, it } from 'vitest';
import { measureCoalescing, measureReadThroughput } from './measure.js';

describe('Modbus measurements', () => {
  it('a poll of 200 properties over 10 units takes within 10% of the minimum request count', () => {
    for (const seed of [1, 2, 3, 4]) {
      const result = measureCoalescing({ seed });
      expect(result).toMatchObject({ properties: 200, units: 10, naive: 200 });
      expect(result.coalesced).toBeLessThanOrEqual(Math.ceil(result.minimum * 1.1));
    }
  });

  it('the driver sustains thousands of requests per second against the simulator', async () => {
    // ~40,000/s here; the bound only catches a regression to millisecond-per-request behaviour
    // (modbus-serial's ServerTCP manages ~660/s) without flaking on a busy machine.
    const result = await measureReadThroughput({ durationMs: 300 });
    expect(result.requestsPerSecond).toBeGreaterThan(3000);
    expect(result.p50Ms).toBeLessThan(1);
  });
});
