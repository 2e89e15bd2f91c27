// Test support for the Bluetooth tests (not part of the mapper's public face): a driver bound to a
// simulated rig, a fake clock for the backoff gate, and a sink that tests can await.

import { pino } from 'pino';
import type { EdgetwinError } from '../../errors.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import { bindDevice, type DeviceDriver, type DriverProperty, type MapperContext, type MapperFactory, type ReadResult, type ValueSink } from '../sdk/index.js';

export interface Harness {
  readonly driver: DeviceDriver;
  readonly props: ReadonlyMap<string, DriverProperty>;
  pick(...names: string[]): DriverProperty[];
}

export class FakeClock {
  now = 1_000_000;
  advance(ms: number): void {
    this.now += ms;
  }
}

export function context(clock?: FakeClock): MapperContext {
  return { logger: pino({ level: 'silent' }), now: clock ? () => clock.now : Date.now };
}

export function connect(factory: MapperFactory, instance: DeviceInstance, model: DeviceModel, clock?: FakeClock): Harness {
  const { driverDevice } = bindDevice(factory, instance, model);
  const props = new Map(driverDevice.properties.map((p) => [p.name, p]));
  const driver = factory.connect(context(clock), driverDevice);
  return {
    driver,
    props,
    pick: (...names) =>
      names.map((n) => {
        const p = props.get(n);
        if (!p) throw new Error(`no property ${n}`);
        return p;
      }),
  };
}

/** Runs `fn` with a signal that aborts after `ms`. */
export async function deadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('test deadline')), ms);
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** The error a promise rejects with (fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<EdgetwinError> {
  try {
    await p;
  } catch (err) {
    return err as EdgetwinError;
  }
  throw new Error('expected a rejection');
}

interface Waiter {
  readonly property: string;
  readonly test: (r: ReadResult) => boolean;
  readonly resolve: (r: ReadResult) => void;
}

/** A ValueSink that records everything and lets a test await the next matching result. */
export class SinkRecorder {
  readonly received: { property: string; result: ReadResult }[] = [];
  readonly #waiters = new Set<Waiter>();

  readonly sink: ValueSink = (property, result) => {
    this.received.push({ property, result });
    for (const w of [...this.#waiters]) {
      if (w.property === property && w.test(result)) {
        this.#waiters.delete(w);
        w.resolve(result);
      }
    }
  };

  next(property: string, test: (r: ReadResult) => boolean = () => true, timeoutMs = 3000): Promise<ReadResult> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        property,
        test,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no matching value for ${property} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Resolves with the next successful value equal to `value`. */
  value(property: string, value: unknown, timeoutMs?: number): Promise<ReadResult> {
    return this.next(property, (r) => r.ok && r.value === value, timeoutMs);
  }
}
