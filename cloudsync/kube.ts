// The few Kubernetes calls cloud sync makes, behind one small interface, and its implementation
// on @kubernetes/client-node 1.4 (reference/dependencies.md §9): list (paged), get, create,
// merge-patch (optionally on /status), and watch. Every call passes the client-side rate limit,
// carries a deadline, is aborted by close(), and is counted (calls, request bytes).

import * as k8s from '@kubernetes/client-node';
import { edgetwinError, type EdgetwinError } from '../errors.js';
import type { TokenBucket } from './timing.js';

export const GROUP = 'devices.kubeedge.io';
export const VERSION = 'v1beta1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export type Plural = 'devices' | 'devicemodels' | 'devicestatuses';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
  [key: string]: unknown;
}

/** A namespaced custom object as read from the API server (checked only for its metadata). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface ListPage {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
  readonly continue?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandle {
  abort(): void;
}

export interface KubeApi {
  list(plural: Plural, opts: { namespace?: string; limit?: number; continue?: string }): Promise<ListPage>;
  get(plural: Plural, namespace: string, name: string): Promise<KubeObject>;
  create(plural: Plural, namespace: string, body: KubeObject): Promise<KubeObject>;
  mergePatch(plural: Plural, namespace: string, name: string, body: Record<string, unknown>, opts?: { status?: boolean }): Promise<KubeObject>;
  /**
   * Opens a watch from `resourceVersion`. Resolves once the server answered 200 (events then go
   * to `onEvent`, and `onDone` is called once when the stream ends); rejects if it did not.
   */
  watch(
    plural: Plural,
    opts: { namespace?: string; resourceVersion: string },
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<WatchHandle>;
  /** Calls made and request body bytes sent so far (for health, tests and the benchmark). */
  stats(): { calls: number; bytes: number };
  /** Aborts every request in flight; later calls reject. */
  close(): void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isKubeObject(value: unknown): value is KubeObject {
  return isObject(value) && isObject(value.metadata) && typeof value.metadata.name === 'string';
}

/** The HTTP status of a failed call, or undefined for a network failure (refused, reset, timeout). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  if (isObject(err) && typeof err.statusCode === 'number') return err.statusCode;
  if (isObject(err) && typeof err.code === 'number' && err.code >= 100 && err.code < 600) return err.code;
  return undefined;
}

/** Refused, reset, timed out, throttled or failing server-side: worth retrying with backoff. */
export function isUnreachable(err: unknown): boolean {
  const status = statusOf(err);
  return status === undefined || status === 429 || status >= 500;
}

/** The API server's `Status.message`, when the body has one. */
function serverReason(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const parsed: unknown = JSON.parse(body);
        if (isObject(parsed) && typeof parsed.message === 'string') return parsed.message;
      } catch {
        return body.slice(0, 200);
      }
    }
    if (isObject(body) && typeof body.message === 'string') return body.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A coded error for a failed call: CLOUD_UNREACHABLE, CLOUD_CONFLICT or CLOUD_REQUEST. */
export function callError(what: string, err: unknown): EdgetwinError {
  const status = statusOf(err);
  const reason = serverReason(err);
  if (isUnreachable(err)) return edgetwinError('EDGETWIN_ERR_CLOUD_UNREACHABLE', `${what}: ${status ? `HTTP ${status}: ` : ''}${reason}`, [], err);
  if (status === 409) return edgetwinError('EDGETWIN_ERR_CLOUD_CONFLICT', `${what}: ${reason}`, [], err);
  return edgetwinError('EDGETWIN_ERR_CLOUD_REQUEST', `${what}: HTTP ${status ?? '?'}: ${reason}`, [], err);
}

export interface ClientKubeApiOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly limiter: TokenBucket;
  /** Deadline of each request except watches (ms). */
  readonly requestTimeout: number;
}

/** KubeApi on the real client. */
export class ClientKubeApi implements KubeApi {
  private readonly api: k8s.CustomObjectsApi;
  private readonly watcher: k8s.Watch;
  private readonly closing = new AbortController();
  private readonly watches = new Set<AbortController>();
  private readonly counts = { calls: 0, bytes: 0 };

  constructor(private readonly opts: ClientKubeApiOptions) {
    this.api = opts.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.watcher = new k8s.Watch(opts.kubeConfig);
  }

  stats(): { calls: number; bytes: number } {
    return { ...this.counts };
  }

  close(): void {
    this.closing.abort();
    for (const w of this.watches) w.abort();
    this.watches.clear();
    this.opts.limiter.stop();
  }

  /** Per-call options: the deadline and close() as the request's abort signal, plus headers. */
  private options(contentType?: string): k8s.ConfigurationOptions<k8s.ObservableMiddleware> {
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.opts.requestTimeout)]);
    const deadline: k8s.ObservableMiddleware = {
      pre: (ctx) => {
        ctx.setSignal(signal);
        return new k8s.Observable(Promise.resolve(ctx));
      },
      post: (ctx) => new k8s.Observable(Promise.resolve(ctx)),
    };
    const base = { middleware: [deadline], middlewareMergeStrategy: 'append' as const };
    return contentType ? k8s.setHeaderOptions('Content-Type', contentType, base) : base;
  }

  private async call<T>(body: unknown, fn: () => Promise<T>): Promise<T> {
    if (this.closing.signal.aborted) throw edgetwinError('EDGETWIN_ERR_CLOUD_UNREACHABLE', 'cloud sync is stopping');
    await this.opts.limiter.take();
    if (this.closing.signal.aborted) throw edgetwinError('EDGETWIN_ERR_CLOUD_UNREACHABLE', 'cloud sync is stopping');
    this.counts.calls++;
    if (body !== undefined) this.counts.bytes += Buffer.byteLength(JSON.stringify(body));
    return fn();
  }

  async list(plural: Plural, opts: { namespace?: string; limit?: number; continue?: string }): Promise<ListPage> {
    const page = { group: GROUP, version: VERSION, plural, ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.continue ? { _continue: opts.continue } : {}) };
    const res: unknown = await this.call(undefined, () =>
      opts.namespace
        ? this.api.listNamespacedCustomObject({ ...page, namespace: opts.namespace }, this.options())
        : this.api.listClusterCustomObject(page, this.options()),
    );
    if (!isObject(res) || !Array.isArray(res.items) || !isObject(res.metadata)) throw edgetwinError('EDGETWIN_ERR_CLOUD_REQUEST', `list ${plural}: not a list`);
    const meta = res.metadata;
    return {
      items: res.items.filter(isKubeObject),
      resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '',
      ...(typeof meta.continue === 'string' && meta.continue !== '' ? { continue: meta.continue } : {}),
    };
  }

  async get(plural: Plural, namespace: string, name: string): Promise<KubeObject> {
    const res: unknown = await this.call(undefined, () => this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, name }, this.options()));
    if (!isKubeObject(res)) throw edgetwinError('EDGETWIN_ERR_CLOUD_REQUEST', `get ${plural} ${namespace}/${name}: not an object`);
    return res;
  }

  async create(plural: Plural, namespace: string, body: KubeObject): Promise<KubeObject> {
    const res: unknown = await this.call(body, () => this.api.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, body }, this.options()));
    if (!isKubeObject(res)) throw edgetwinError('EDGETWIN_ERR_CLOUD_REQUEST', `create ${plural} ${namespace}: not an object`);
    return res;
  }

  async mergePatch(plural: Plural, namespace: string, name: string, body: Record<string, unknown>, opts: { status?: boolean } = {}): Promise<KubeObject> {
    const req = { group: GROUP, version: VERSION, plural, namespace, name, body };
    const options = this.options(k8s.PatchStrategy.MergePatch);
    const res: unknown = await this.call(body, () =>
      opts.status ? this.api.patchNamespacedCustomObjectStatus(req, options) : this.api.patchNamespacedCustomObject(req, options),
    );
    if (!isKubeObject(res)) throw edgetwinError('EDGETWIN_ERR_CLOUD_REQUEST', `patch ${plural} ${namespace}/${name}: not an object`);
    return res;
  }

  async watch(
    plural: Plural,
    opts: { namespace?: string; resourceVersion: string },
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<WatchHandle> {
    const path = opts.namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${opts.namespace}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`;
    let failed: unknown;
    let ended = false;
    const ref: { controller?: AbortController } = {};
    const controller = await this.call(undefined, () =>
      this.watcher.watch(
        path,
        { resourceVersion: opts.resourceVersion, allowWatchBookmarks: true },
        (type: string, object: unknown) => onEvent(type as WatchEventType, object),
        (err: unknown) => {
          ended = true;
          failed = err;
          if (ref.controller) this.watches.delete(ref.controller);
          onDone(err);
        },
      ),
    );
    // Watch.watch reports a non-200 answer through `done` before it returns.
    if (ended && failed) throw failed instanceof Error ? failed : new Error('watch failed', { cause: failed });
    ref.controller = controller;
    if (this.closing.signal.aborted) controller.abort();
    else if (!ended) this.watches.add(controller);
    return { abort: () => controller.abort() };
  }
}

/** A KubeConfig from a file (and optional context); EDGETWIN_ERR_CLOUD_KUBECONFIG if unusable. */
export function loadKubeConfig(file: string, context?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(file);
    if (context !== undefined) kc.setCurrentContext(context);
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_CLOUD_KUBECONFIG', `kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`, [], err);
  }
  if (!kc.getCurrentCluster()) throw edgetwinError('EDGETWIN_ERR_CLOUD_KUBECONFIG', `kubeconfig ${file}: context "${kc.getCurrentContext()}" names no cluster`);
  return kc;
}
