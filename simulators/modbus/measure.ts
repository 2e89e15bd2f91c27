// Measurements of the Modbus path, as code: request rate and latency of the mapper's driver
// against the simulator over loopback TCP, and the request count of a coalesced poll cycle.
// The benchmark runner and the tests call these; they print nothing.

import { pino } from 'pino';
import { modbusMapper, planReads, type PlanItem, type RegisterTable } from '../../mappers/modbus/index.js';
import { bindDevice } from '../../mappers/sdk/index.js';
import { startModbusTestRig } from './fixtures.js';

export interface ThroughputResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/**
 * One driver, one request outstanding, reading `registers` holding registers per request for
 * `durationMs`. `serverNoDelay: false` leaves Nagle on in the simulator, to show what it costs.
 */
export async function measureReadThroughput(options: { durationMs?: number; registers?: number; serverNoDelay?: boolean } = {}): Promise<ThroughputResult> {
  const registers = options.registers ?? 10;
  const rig = await startModbusTestRig({
    visitors: { bulk: { register: 'HoldingRegister', offset: 100, limit: registers, dataType: 'bytes' } },
    noDelay: options.serverNoDelay ?? true,
  });
  const model = rig.model;
  const { driverDevice } = bindDevice(modbusMapper, rig.device, model);
  const driver = modbusMapper.connect({ logger: pino({ level: 'silent' }), now: Date.now }, driverDevice);
  const bulk = driverDevice.properties.filter((p) => p.name === 'bulk');
  const latencies: number[] = [];
  try {
    const signal = AbortSignal.timeout((options.durationMs ?? 1000) + 10_000);
    await driver.read(bulk, signal); // connect and warm up outside the measured span
    const started = performance.now();
    const until = started + (options.durationMs ?? 1000);
    for (let now = started; now < until; ) {
      const [result] = await driver.read(bulk, signal);
      if (!result?.ok) throw result?.error ?? new Error('read failed');
      const done = performance.now();
      latencies.push(done - now);
      now = done;
    }
    const elapsed = performance.now() - started;
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      requestsPerSecond: Math.round((latencies.length * 1000) / elapsed),
      p50Ms: Number(percentile(latencies, 50).toFixed(3)),
      p99Ms: Number(percentile(latencies, 99).toFixed(3)),
    };
  } finally {
    await driver.close();
    await rig.close();
  }
}

export interface CoalescingResult {
  readonly properties: number;
  readonly units: number;
  /** Requests per poll cycle with coalescing. */
  readonly coalesced: number;
  /** One request per property. */
  readonly naive: number;
  /** The fewest requests the protocol allows (any gap read, 125 registers / 2000 bits each). */
  readonly minimum: number;
}

/**
 * The request count of one poll cycle over `units` units of `perUnit` properties each, laid out
 * as a typical device map: mostly holding and input registers of 1, 2 or 4 registers with small
 * gaps, a few coils and discrete inputs. Deterministic for a given seed.
 */
export function measureCoalescing(options: { units?: number; perUnit?: number; seed?: number } = {}): CoalescingResult {
  const units = options.units ?? 10;
  const perUnit = options.perUnit ?? 20;
  let state = (options.seed ?? 1) >>> 0;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const items: PlanItem<number>[] = [];
  const offsets: Record<RegisterTable, number> = { HoldingRegister: 0, InputRegister: 0, CoilRegister: 0, DiscreteInputRegister: 0 };
  for (let unit = 1; unit <= units; unit++) {
    for (const table of Object.keys(offsets) as RegisterTable[]) offsets[table] = 0;
    for (let i = 0; i < perUnit; i++) {
      const pick = random();
      const table: RegisterTable = pick < 0.5 ? 'HoldingRegister' : pick < 0.8 ? 'InputRegister' : pick < 0.9 ? 'CoilRegister' : 'DiscreteInputRegister';
      const count = table === 'HoldingRegister' || table === 'InputRegister' ? ([1, 2, 2, 4][Math.floor(random() * 4)] ?? 1) : 1;
      items.push({ unit, table, offset: offsets[table], count, ref: items.length });
      offsets[table] += count + Math.floor(random() * 3);
    }
  }
  return {
    properties: items.length,
    units,
    coalesced: planReads(items).length,
    naive: items.length,
    // Greedy planning with no gap limit is optimal (planner.ts), so this is the true minimum.
    minimum: planReads(items, { maxGap: 125, maxBitGap: 2000 }).length,
  };
}
