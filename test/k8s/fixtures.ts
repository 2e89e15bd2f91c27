// Fixtures for cloud sync tests: KubeEdge objects, a twin on a real broker and SQLite store,
// CloudSync against the test API server, a time-scaled clock (backoff and report cycles run
// N× faster without any test sleeping a fixed time), and waiting on a condition with a timeout.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudSync, systemClock, type Clock } from '../../cloudsync/index.js';
import type { CloudSyncOptions } from '../../cloudsync/index.js';
import { DeviceTwin, SqliteTwinStore } from '../../devicetwin/index.js';
import { silentLogger } from '../../edgecore/index.js';
import { EmbeddedBroker } from '../../eventbus/index.js';
import type { FakeApiServer } from './server.js';
import type { Obj } from './store.js';

export const API = 'devices.kubeedge.io/v1beta1';

export interface PropSpec {
  readonly name: string;
  readonly type: 'INT' | 'FLOAT' | 'DOUBLE' | 'STRING' | 'BOOLEAN';
  readonly readOnly?: boolean;
  readonly minimum?: string;
  readonly maximum?: string;
}

export const THERMO_PROPS: readonly PropSpec[] = [
  { name: 'temperature', type: 'FLOAT', readOnly: true, minimum: '-40', maximum: '125' },
  { name: 'setpoint', type: 'FLOAT', minimum: '5', maximum: '35' },
  { name: 'power', type: 'BOOLEAN' },
];

export function deviceModel(name: string, props: readonly PropSpec[] = THERMO_PROPS, namespace = 'default'): Obj {
  return {
    apiVersion: API,
    kind: 'DeviceModel',
    metadata: { name, namespace },
    spec: {
      protocol: 'external',
      properties: props.map((p) => ({
        name: p.name,
        type: p.type,
        accessMode: p.readOnly ? 'ReadOnly' : 'ReadWrite',
        ...(p.minimum !== undefined ? { minimum: p.minimum } : {}),
        ...(p.maximum !== undefined ? { maximum: p.maximum } : {}),
      })),
    },
  };
}

export function device(
  name: string,
  opts: { node?: string; model?: string; namespace?: string; desired?: Record<string, string>; props?: readonly string[]; reportCycle?: number; protocol?: Record<string, unknown> } = {},
): Obj {
  const props = opts.props ?? THERMO_PROPS.map((p) => p.name);
  return {
    apiVersion: API,
    kind: 'Device',
    metadata: { name, namespace: opts.namespace ?? 'default' },
    spec: {
      deviceModelRef: { name: opts.model ?? 'thermo' },
      nodeName: opts.node ?? 'edge-1',
      protocol: opts.protocol ?? { protocolName: 'external' },
      properties: props.map((p) => ({
        name: p,
        ...(opts.desired?.[p] !== undefined ? { desired: { value: opts.desired[p] } } : {}),
        ...(opts.reportCycle !== undefined ? { reportCycle: opts.reportCycle } : {}),
        reportToCloud: true,
      })),
    },
  };
}

/** Time runs `factor`× faster: delays are shorter by that much and now() advances that much faster. */
export function fastClock(factor = 20): Clock {
  const t0 = Date.now();
  return {
    now: () => t0 + (Date.now() - t0) * factor,
    delay: (ms, signal) => systemClock.delay(ms / factor, signal),
  };
}

/** Resolves with `check()`'s first defined value; polls on every turn of the event loop. */
export function waitFor<T>(check: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      let v: T | undefined | false;
      try {
        v = check();
      } catch (err) {
        return reject(err instanceof Error ? err : new Error(String(err)));
      }
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

export interface SyncHarness {
  readonly twin: DeviceTwin;
  readonly broker: EmbeddedBroker;
  readonly sync: CloudSync;
  readonly dir: string;
  /** Stops sync, twin, broker and store (the data dir is kept for a restart). */
  stop(): Promise<void>;
  /** stop() and remove the data dir. */
  destroy(): Promise<void>;
}

/** A twin (real broker on port 0, SQLite store) with CloudSync on the test API server. */
export async function startSync(server: FakeApiServer, opts: Partial<CloudSyncOptions> & { dir?: string } = {}): Promise<SyncHarness> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'edgetwin-cloud-'));
  const logger = silentLogger();
  const store = new SqliteTwinStore({ path: path.join(dir, 'edgetwin.db'), synchronous: 'normal', logger });
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
  const twin = new DeviceTwin({ bus: broker, store, nodeName: opts.nodeName ?? 'edge-1', logger });
  await twin.start();
  await broker.start();
  twin.listen();
  const sync = new CloudSync({
    twin,
    nodeName: 'edge-1',
    dataDir: dir,
    logger,
    kubeConfig: server.kubeConfig(),
    clock: fastClock(),
    qps: 1000,
    burst: 1000,
    ...opts,
  });
  await sync.start();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await sync.stop();
    await twin.stop();
    await broker.close();
    await store.close();
  };
  return { twin, broker, sync, dir, stop, destroy: async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  } };
}

/** The status object of a device as the cluster holds it (DeviceStatus, or Device.status). */
export function clusterStatus(server: FakeApiServer, name: string, layout: 'devicestatus' | 'device' = 'devicestatus', namespace = 'default'): Record<string, unknown> | undefined {
  try {
    return server.store.get(layout === 'devicestatus' ? 'devicestatuses' : 'devices', namespace, name).status as Record<string, unknown> | undefined;
  } catch {
    return undefined;
  }
}

export type TwinEntry = { propertyName: string; reported?: { value: string; metadata?: Record<string, string> }; observedDesired?: { value: string; metadata?: Record<string, string> } };

export function twinOf(status: Record<string, unknown> | undefined, property: string): TwinEntry | undefined {
  const twins = (status?.twins ?? []) as TwinEntry[];
  return twins.find((t) => t.propertyName === property);
}
