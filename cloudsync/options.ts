// What CloudSync needs, its defaults, and the config section (schemas/config.ts `cloud`) → options.

import type { Logger } from 'pino';
import type { DeviceTwinState, TwinChange, TwinUpdateInput, UpdateOrigin } from '../devicetwin/index.js';
import type { DeviceInstance, DeviceModel, EdgetwinConfig } from '../schemas/index.js';
import type { KubeApi } from './kube.js';
import type { StatusLayout } from './status.js';
import type { BackoffOptions, Clock } from './timing.js';

/** The part of the twin's public API cloud sync uses (devicetwin/service.ts DeviceTwin has it). */
export interface TwinApi {
  setDevices(devices: ReadonlyArray<{ instance: DeviceInstance; model: DeviceModel }>, origin?: string): Promise<void>;
  update(id: string, twins: TwinUpdateInput, options?: { origin?: UpdateOrigin }): Promise<DeviceTwinState>;
  onChange(listener: (change: TwinChange) => void): () => void;
  get(id: string): DeviceTwinState | undefined;
}

export interface CloudSyncOptions {
  readonly twin: TwinApi;
  readonly nodeName: string;
  /** Where the outbox lives (`<dataDir>/cloudsync.db`). */
  readonly dataDir: string;
  readonly logger: Logger;
  /** A kubeconfig file; ignored when `api` is given. */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** A ready KubeApi (tests, or an embedding application with its own client). */
  readonly api?: KubeApi;
  /** Watch this namespace only; default every namespace. */
  readonly namespace?: string;
  /** `devicestatus` (KubeEdge ≥ 1.23, default) or `device` (status on the Device, ≤ 1.22). */
  readonly statusLayout?: StatusLayout;
  /** Write status through the /status subresource (KubeEdge's CRDs declare none: default false). */
  readonly statusSubresource?: boolean;
  /** Default status cadence per device (ms), when its properties declare no reportCycle: 1000. */
  readonly reportCycle?: number;
  /** Client-side rate limit of API calls: 50 per second, bursts of 100. */
  readonly qps?: number;
  readonly burst?: number;
  /** Deadline of each API request except watches (ms): 10000. */
  readonly requestTimeout?: number;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  /** Status writes in flight at once: 8. */
  readonly concurrency?: number;
  /** How long a first change waits for others of the same device before its write (ms): 25. */
  readonly batchWindow?: number;
  /** Local models, used when a Device's namespace has no DeviceModel of that name. */
  readonly localModels?: ReadonlyMap<string, DeviceModel>;
  /** Called with the cluster's devices after each change of the set bound to the twin (e.g. to start mappers for them). */
  readonly onDevices?: (devices: ReadonlyArray<{ instance: DeviceInstance; model: DeviceModel }>) => Promise<void> | void;
  /** List page size: 500. */
  readonly pageSize?: number;
}

export const DEFAULTS = {
  statusLayout: 'devicestatus',
  statusSubresource: false,
  reportCycle: 1000,
  qps: 50,
  burst: 100,
  requestTimeout: 10_000,
  concurrency: 8,
  batchWindow: 25,
  pageSize: 500,
} as const;

/** Options from the config file's `cloud` section (undefined when no kubeconfig: sync off). */
export function cloudSyncOptionsFromConfig(
  config: EdgetwinConfig,
  deps: Pick<CloudSyncOptions, 'twin' | 'logger' | 'localModels' | 'onDevices'>,
): CloudSyncOptions | undefined {
  const c = config.cloud;
  if (c.kubeconfig === undefined) return undefined;
  return {
    twin: deps.twin,
    logger: deps.logger,
    nodeName: config.nodeName,
    dataDir: config.dataDir,
    kubeconfig: c.kubeconfig,
    ...(deps.localModels ? { localModels: deps.localModels } : {}),
    ...(deps.onDevices ? { onDevices: deps.onDevices } : {}),
    ...(c.context !== undefined ? { context: c.context } : {}),
    ...(c.namespace !== undefined ? { namespace: c.namespace } : {}),
    ...(c.statusLayout !== undefined ? { statusLayout: c.statusLayout } : {}),
    ...(c.statusSubresource !== undefined ? { statusSubresource: c.statusSubresource } : {}),
    ...(c.reportCycle !== undefined ? { reportCycle: c.reportCycle } : {}),
    ...(c.qps !== undefined ? { qps: c.qps } : {}),
    ...(c.burst !== undefined ? { burst: c.burst } : {}),
    ...(c.requestTimeout !== undefined ? { requestTimeout: c.requestTimeout } : {}),
  };
}
