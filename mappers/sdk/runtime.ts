// The mapper runtime: runs one DeviceWorker per device whose protocol has a factory here, over
// any Bus — the embedded broker (in-process) or an MQTT connection (a mapper in its own
// process). The same code either way; only the bus differs.

import type { Logger } from 'pino';
import { edgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { Bus } from '../../eventbus/index.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './policy.js';
import type { MapperFactory } from './types.js';
import { DeviceWorker } from './worker.js';

/** mappers.resyncMs's default: a failed desired value is retried at least once a minute. */
export const DEFAULT_RESYNC_MS = 60_000;

export interface MapperRuntimeOptions {
  readonly bus: Bus;
  readonly factories: readonly MapperFactory[];
  readonly logger: Logger;
  readonly now?: () => number;
  readonly timeoutMs?: number;
  readonly offlineAfter?: number;
  readonly writeAttempts?: number;
  /** Period of the re-sync that retries failed desired values (ms, default 60 s; config mappers.resyncMs). */
  readonly resyncMs?: number;
  readonly backoff?: BackoffOptions;
  /** Called after every poll, for the poll latency histogram (edgecore/metrics.ts). */
  readonly onPoll?: (poll: PollReport) => void;
  /** Report every successful reading instead of changes (the DMI transport's cadence). */
  readonly reportEveryPoll?: boolean;
}

/** One poll of one device: how long it took (queue wait included) and whether anything was read. */
export interface PollReport {
  readonly device: string;
  readonly protocol: string;
  readonly seconds: number;
  readonly ok: boolean;
}

export interface BoundDeviceInput {
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
}

export class MapperRuntime {
  private readonly o: MapperRuntimeOptions;
  private readonly factories = new Map<string, MapperFactory>();
  private readonly workers = new Map<string, { worker: DeviceWorker; key: string }>();

  constructor(options: MapperRuntimeOptions) {
    this.o = options;
    for (const f of options.factories) this.factories.set(f.protocol, f);
  }

  /** The protocols this runtime serves. */
  get protocols(): string[] {
    return [...this.factories.keys()];
  }

  /**
   * Serves exactly these devices (those of other protocols are ignored: an outside mapper may
   * drive them). New devices start, removed ones stop, changed ones restart. A device whose
   * config is invalid is reported (coded) and skipped; the others run.
   */
  async setDevices(devices: readonly BoundDeviceInput[]): Promise<EdgetwinError[]> {
    const problems: EdgetwinError[] = [];
    const wanted = new Map<string, BoundDeviceInput>();
    for (const d of devices) {
      const protocol = d.instance.protocol?.protocolName;
      if (protocol !== undefined && this.factories.has(protocol)) wanted.set(d.instance.id, d);
    }
    for (const [id, { worker, key }] of this.workers) {
      const next = wanted.get(id);
      if (!next || keyOf(next) !== key) {
        this.workers.delete(id);
        await worker.stop();
      }
    }
    for (const [id, d] of wanted) {
      if (this.workers.has(id)) continue;
      const factory = this.factories.get(d.instance.protocol!.protocolName)!;
      const worker = new DeviceWorker({
        bus: this.o.bus,
        factory,
        instance: d.instance,
        model: d.model,
        logger: this.o.logger.child({ device: id, protocol: factory.protocol }),
        now: this.o.now ?? Date.now,
        timeoutMs: this.o.timeoutMs ?? 2000,
        offlineAfter: this.o.offlineAfter ?? 3,
        writeAttempts: this.o.writeAttempts ?? 3,
        resyncMs: this.o.resyncMs ?? DEFAULT_RESYNC_MS,
        backoff: this.o.backoff ?? DEFAULT_BACKOFF,
        ...(this.o.onPoll ? { onPoll: this.o.onPoll } : {}),
        ...(this.o.reportEveryPoll ? { reportEveryPoll: true } : {}),
      });
      try {
        await worker.start();
        this.workers.set(id, { worker, key: keyOf(d) });
      } catch (err) {
        const cause = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG');
        // The same code, with the device named: a caller reporting it needs no log to tell which.
        const e = edgetwinError(cause.code, `device ${id} not mapped: ${cause.message.replace(`device ${id}: `, '')}`, cause.details, cause);
        problems.push(e);
        this.o.logger.error({ device: id, code: e.code, details: e.details }, e.message);
        await worker.stop().catch(() => undefined);
      }
    }
    return problems;
  }

  status(): ReturnType<DeviceWorker['status']>[] {
    return [...this.workers.values()].map((w) => w.worker.status());
  }

  async stop(): Promise<void> {
    const all = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(all.map((w) => w.worker.stop().catch((err: unknown) => this.o.logger.warn({ err }, 'worker stop failed'))));
  }
}

/** What a worker was started from: a change to any of it (a reload of the manifest or model) restarts it. */
function keyOf(d: BoundDeviceInput): string {
  return JSON.stringify([d.instance.protocol, d.instance.properties, d.model.name, d.model.schema]);
}
