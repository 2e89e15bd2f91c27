// The conformance suite every mapper passes (like aedes-persistence's abstract.js): a mapper's
// test supplies a fixture — its factory, a device (usually a simulator over real sockets) and
// the device-side controls — and this declares the tests: the driver alone, then the runtime
// over each of its transports (in-process bus, MQTT, DMI). Imports vitest: test code only.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { isEdgetwinError } from '../../errors.js';
import { deviceTopic } from '../../eventbus/index.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import { bindDevice } from './config.js';
import { TRANSPORTS, type TransportRig } from './conformance-transports.js';
import type { DeviceDriver, DriverProperty, MapperFactory } from './types.js';

export interface ConformanceFixture {
  readonly factory: MapperFactory;
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  /** Properties the suite reads (at least two, to exercise batching). */
  readonly readable: readonly string[];
  /** A writable property and two different valid desired values (wire strings). */
  readonly writable: { readonly property: string; readonly values: readonly [string, string] };
  /** Sets a value on the device side (as if the physical world changed it). */
  setDeviceValue(property: string, wire: string): void | Promise<void>;
  /** The value the device holds, as a wire string in the model's canonical form. */
  deviceValue(property: string): string | Promise<string>;
  /** The device stops answering (requests time out). */
  silence(): void | Promise<void>;
  /** The device drops every connection (it stays reachable). */
  drop(): void | Promise<void>;
  /** Undo silence(). */
  heal(): void | Promise<void>;
  close(): Promise<void>;
}

const quietLogger = pino({ level: 'silent' });
const ctx = { logger: quietLogger, now: () => Date.now() };

/** Runs `fn` with a fresh AbortSignal that fires after `ms`. */
async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('deadline')), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(timer);
  }
}

function fastInstance(instance: DeviceInstance): DeviceInstance {
  return { ...instance, properties: instance.properties.map((p) => ({ ...p, collectCycle: 50, reportCycle: 60_000 })) };
}

/** Waits until `probe` returns a value (polling with a timeout, never a fixed sleep). */
async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function mapperConformance(label: string, setup: () => Promise<ConformanceFixture>): void {
  describe(`mapper conformance: ${label}`, () => {
    let fx: ConformanceFixture;
    let driver: DeviceDriver;
    let props: Map<string, DriverProperty>;

    beforeAll(async () => {
      fx = await setup();
      const bound = bindDevice(fx.factory, fx.instance, fx.model);
      props = new Map(bound.driverDevice.properties.map((p) => [p.name, p]));
      driver = fx.factory.connect(ctx, bound.driverDevice);
    });

    afterAll(async () => {
      await driver?.close();
      await fx?.close();
    });

    const pick = (names: readonly string[]): DriverProperty[] => names.map((n) => props.get(n)!);

    it('declares its protocol and JSON Schemas for protocol and visitor config', () => {
      expect(fx.factory.protocol).toMatch(/^[a-z0-9-]+$/);
      expect(typeof fx.factory.protocolConfigSchema).toBe('object');
      expect(typeof fx.factory.visitorConfigSchema).toBe('object');
    });

    it('reads a batch: one result per property, in order, equal to the device', async () => {
      const names = fx.readable;
      const results = await withDeadline(5000, (s) => driver.read(pick(names), s));
      expect(results).toHaveLength(names.length);
      for (const [i, name] of names.entries()) {
        const r = results[i]!;
        expect(r.ok, `${name}: ${r.ok ? '' : r.error.message}`).toBe(true);
        if (r.ok) expect(props.get(name)!.model.check(r.value)).toMatchObject({ ok: true, wire: await fx.deviceValue(name) });
      }
      expect(driver.state()).toBe('online');
    });

    it('sees a value the device changed', async () => {
      const name = fx.readable[0]!;
      const model = props.get(name)!.model;
      const before = await fx.deviceValue(name);
      const next = model.type === 'boolean' ? String(before !== 'true') : String(Number(before) === (model.minimum ?? 0) ? (model.minimum ?? 0) + 1 : (model.minimum ?? 0));
      await fx.setDeviceValue(name, next);
      const [r] = await withDeadline(5000, (s) => driver.read(pick([name]), s));
      expect(r?.ok && model.check(r.value)).toMatchObject({ ok: true, wire: next });
    });

    it('writes a value that reads back equal', async () => {
      const { property, values } = fx.writable;
      const prop = props.get(property)!;
      for (const wire of values) {
        const parsed = prop.model.parse(wire);
        if (!parsed.ok) throw new Error(parsed.message);
        await withDeadline(5000, (s) => driver.write(prop, parsed.value, s));
        expect(await fx.deviceValue(property)).toBe(parsed.wire);
        const [r] = await withDeadline(5000, (s) => driver.read([prop], s));
        expect(r?.ok && prop.model.check(r.value)).toMatchObject({ ok: true, wire: parsed.wire });
      }
    });

    it('gives up on a silent device by the deadline, with a coded error, and recovers', async () => {
      await fx.silence();
      const started = Date.now();
      const outcome = await withDeadline(400, (s) => driver.read(pick(fx.readable), s))
        .then(
          (results) => results.find((r) => !r.ok),
          (err: unknown) => ({ ok: false as const, error: err }),
        )
        .finally(() => fx.heal());
      expect(Date.now() - started).toBeLessThan(3000);
      expect(outcome && !outcome.ok && isEdgetwinError(outcome.error), String(outcome && !outcome.ok && outcome.error)).toBe(true);
      const results = await eventually(async () => {
        const rs = await withDeadline(2000, (s) => driver.read(pick(fx.readable), s)).catch(() => undefined);
        return rs?.every((r) => r.ok) ? rs : undefined;
      });
      expect(results).toHaveLength(fx.readable.length);
    });

    it('reconnects by itself after the device drops the connection', async () => {
      await fx.drop();
      const results = await eventually(async () => {
        const rs = await withDeadline(2000, (s) => driver.read(pick(fx.readable), s)).catch(() => undefined);
        return rs?.every((r) => r.ok) ? rs : undefined;
      });
      expect(results.every((r) => r.ok)).toBe(true);
    });

    // The same runtime three ways (conformance-transports.ts): in-process, over MQTT, over DMI.
    for (const transport of TRANSPORTS) {
      describe(`under the runtime, ${transport.name}`, () => {
        let rig: TransportRig;
        let topic: (kind: 'twin/update' | 'state/update') => string;

        beforeAll(async () => {
          const inst = fastInstance(fx.instance);
          topic = (kind) => deviceTopic(inst.namespace, inst.name, kind);
          rig = await transport.start({
            factory: fx.factory,
            instance: inst,
            model: fx.model,
            logger: quietLogger,
            runtime: { timeoutMs: 300, offlineAfter: 2, backoff: { baseMs: 20, maxMs: 100, jitter: 0.2 } },
          });
        });

        afterAll(async () => {
          await rig?.close();
        });

        const states = (): string[] => rig.seen.filter((m) => m.topic === topic('state/update')).map((m) => m.json.state as string);

        it('reports readings as KubeEdge twin/update messages and marks the device online', async () => {
          const update = await eventually(() => rig.seen.find((m) => m.topic === topic('twin/update') && m.json.twin));
          const twin = update.json.twin as Record<string, { actual?: { value?: string }; metadata?: { type?: string } }>;
          const [first] = Object.values(twin);
          expect(typeof first?.actual?.value).toBe('string');
          expect(typeof first?.metadata?.type).toBe('string');
          await eventually(() => (states().includes('online') ? true : undefined));
        });

        it('goes offline after repeated failures and back online on the first success', async () => {
          await fx.silence();
          await eventually(() => (states().at(-1) === 'offline' ? true : undefined), 10_000);
          await fx.heal();
          await eventually(() => (states().at(-1) === 'online' ? true : undefined), 10_000);
        });

        it('closes the loop: a desired value is written, read back, reported as actual and acked applied', async () => {
          const { property, values } = fx.writable;
          const desired = values[0] === (await fx.deviceValue(property)) ? values[1] : values[0];
          await rig.setDesired(property, desired);
          const ack = await eventually(() =>
            rig.seen.find((m) => {
              const t = (m.json.twin as Record<string, { ack?: { state?: string; value?: string } }> | undefined)?.[property];
              return m.topic === topic('twin/update') && t?.ack?.value === desired ? m : undefined;
            }),
          );
          const entry = (ack.json.twin as Record<string, { ack: { state: string }; actual?: { value: string } }>)[property]!;
          expect(entry.ack.state).toBe('applied');
          expect(entry.actual?.value).toBe(props.get(property)!.model.parse(desired).ok ? (props.get(property)!.model.parse(desired) as { wire: string }).wire : desired);
          expect(await fx.deviceValue(property)).toBe(entry.actual?.value);
        });
      });
    }
  });
}
