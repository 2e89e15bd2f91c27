// List, then watch from the list's resourceVersion; relist on 410 Gone; reconnect with backoff.
// client-go's Reflector / @kubernetes/client-node's ListWatch, with what they lack here: an
// injectable clock for the backoff, and a health record instead of dying on the first error.

import type { Logger } from 'pino';
import { toEdgetwinError } from '../errors.js';
import { callError, isKubeObject, statusOf, type KubeApi, type KubeObject, type Plural, type WatchEventType, type WatchHandle } from './kube.js';
import { Backoff, type BackoffOptions, type Clock } from './timing.js';

export type ObjectEvent = { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: KubeObject };

export interface ReflectorHealth {
  /** `listing` until the first list, `watching` while a watch is open, `retrying` after a failure. */
  readonly state: 'idle' | 'listing' | 'watching' | 'retrying' | 'stopped';
  readonly synced: boolean;
  readonly resourceVersion: string;
  readonly relists: number;
  /** Relists caused by 410 Gone (compacted history). */
  readonly expired: number;
  readonly failures: number;
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: number };
}

export interface ReflectorOptions {
  readonly api: KubeApi;
  readonly plural: Plural;
  readonly namespace?: string;
  readonly clock: Clock;
  readonly backoff?: BackoffOptions;
  readonly logger: Logger;
  /** Page size of a list (the API server's `limit`). */
  readonly pageSize?: number;
  /** Changes to the cache, in order; a relist reports only what differs from the cache. */
  readonly onEvents: (events: readonly ObjectEvent[]) => void;
  /** After every successful list. */
  readonly onSynced?: () => void;
  /** After a watch (re)opens or fails: health changed. */
  readonly onHealth?: (health: ReflectorHealth) => void;
}

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** Why one watch ended. */
type WatchEnd = { readonly kind: 'closed'; readonly events: number } | { readonly kind: 'expired' } | { readonly kind: 'failed'; readonly err: unknown };

export class Reflector {
  private readonly cache = new Map<string, KubeObject>();
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private watch?: WatchHandle;
  private endWatch?: (end: WatchEnd) => void;
  private rv = '';
  private health: ReflectorHealth = { state: 'idle', synced: false, resourceVersion: '', relists: 0, expired: 0, failures: 0 };

  constructor(private readonly opts: ReflectorOptions) {
    this.backoff = new Backoff(opts.backoff);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.watch?.abort();
    this.endWatch?.({ kind: 'closed', events: 0 });
    await this.loop;
    this.setHealth({ state: 'stopped' });
  }

  items(): KubeObject[] {
    return [...this.cache.values()];
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  /** Adopts an object read or written outside the watch (e.g. after a 409), if it is newer. */
  observe(object: KubeObject): void {
    const key = objectKey(object);
    const known = this.cache.get(key);
    if (known && compareRv(known.metadata.resourceVersion, object.metadata.resourceVersion) >= 0) return;
    this.cache.set(key, object);
    this.opts.onEvents([{ type: known ? 'MODIFIED' : 'ADDED', object }]);
  }

  status(): ReflectorHealth {
    return this.health;
  }

  private setHealth(patch: Partial<ReflectorHealth>): void {
    this.health = { ...this.health, ...patch };
    this.opts.onHealth?.(this.health);
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.rv === '') await this.list();
        const end = await this.watchOnce();
        if (this.stopped) break;
        if (end.kind === 'expired') {
          // The history we would resume from is compacted: only a fresh list is consistent.
          this.rv = '';
          this.setHealth({ expired: this.health.expired + 1 });
          this.opts.logger.info({ plural: this.opts.plural }, 'watch expired (410 Gone): relisting');
          continue;
        }
        if (end.kind === 'failed') throw end.err;
        // A server-side close (timeoutSeconds, apiserver restart) is normal; one that delivered
        // nothing at all is treated as a failure so a flapping server is not hammered.
        if (end.events > 0) this.backoff.reset();
        else await this.pause(undefined);
      } catch (err) {
        if (this.stopped) break;
        await this.pause(err);
      }
    }
  }

  private async pause(err: unknown): Promise<void> {
    const wait = this.backoff.next();
    if (err !== undefined) {
      const e = toEdgetwinError(callError(`${this.health.state === 'listing' ? 'list' : 'watch'} ${this.opts.plural}`, err));
      this.setHealth({ state: 'retrying', failures: this.health.failures + 1, lastError: { code: e.code, message: e.message, at: this.opts.clock.now() } });
      this.opts.logger.warn({ plural: this.opts.plural, code: e.code, retryInMs: wait }, `cloud sync: ${e.message}`);
    }
    await this.opts.clock.delay(wait, this.stopping.signal);
  }

  private async list(): Promise<void> {
    this.setHealth({ state: 'listing' });
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.api.list(this.opts.plural, {
        ...(this.opts.namespace ? { namespace: this.opts.namespace } : {}),
        limit: this.opts.pageSize ?? 500,
        ...(cont ? { continue: cont } : {}),
      });
      items.push(...page.items);
      cont = page.continue;
      rv = page.resourceVersion;
    } while (cont !== undefined && !this.stopped);
    if (this.stopped) return;
    this.replace(items);
    this.rv = rv;
    this.backoff.reset();
    this.setHealth({ synced: true, resourceVersion: rv, relists: this.health.relists + 1 });
    this.opts.onSynced?.();
  }

  /** Swaps the cache for a fresh list, reporting only the differences. */
  private replace(items: readonly KubeObject[]): void {
    const events: ObjectEvent[] = [];
    const fresh = new Map(items.map((o) => [objectKey(o), o]));
    for (const [key, old] of this.cache) if (!fresh.has(key)) events.push({ type: 'DELETED', object: old });
    for (const [key, o] of fresh) {
      const old = this.cache.get(key);
      if (!old) events.push({ type: 'ADDED', object: o });
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) events.push({ type: 'MODIFIED', object: o });
    }
    this.cache.clear();
    for (const [key, o] of fresh) this.cache.set(key, o);
    if (events.length > 0) this.opts.onEvents(events);
  }

  private async watchOnce(): Promise<WatchEnd> {
    let events = 0;
    const ended = new Promise<WatchEnd>((resolve) => {
      this.endWatch = resolve;
    });
    const onEvent = (type: WatchEventType, object: unknown): void => {
      if (type === 'ERROR') {
        // [k8s API concepts, "Efficient detection of changes"]: 410 Gone as an ERROR event.
        const code = (object as { code?: unknown } | null)?.code;
        this.endWatch?.(code === 410 ? { kind: 'expired' } : { kind: 'failed', err: Object.assign(new Error(`watch error event ${JSON.stringify(object)}`), { statusCode: code }) });
        this.watch?.abort();
        return;
      }
      if (!isKubeObject(object)) return;
      events++;
      if (object.metadata.resourceVersion) this.rv = object.metadata.resourceVersion;
      if (type === 'BOOKMARK') return;
      const key = objectKey(object);
      if (type === 'DELETED') this.cache.delete(key);
      else this.cache.set(key, object);
      this.opts.onEvents([{ type, object }]);
    };
    const onDone = (err: unknown): void => {
      if (err && statusOf(err) === 410) this.endWatch?.({ kind: 'expired' });
      else if (err && !this.stopped) this.endWatch?.({ kind: 'failed', err });
      else this.endWatch?.({ kind: 'closed', events });
    };
    try {
      this.watch = await this.opts.api.watch(this.opts.plural, { ...(this.opts.namespace ? { namespace: this.opts.namespace } : {}), resourceVersion: this.rv }, onEvent, onDone);
    } catch (err) {
      return statusOf(err) === 410 ? { kind: 'expired' } : { kind: 'failed', err };
    }
    if (this.stopped) this.watch.abort();
    this.setHealth({ state: 'watching', resourceVersion: this.rv });
    const end = await ended;
    this.watch = undefined;
    this.endWatch = undefined;
    return end;
  }
}

/** resourceVersions are opaque strings, but every API server we know issues increasing integers. */
function compareRv(a: string | undefined, b: string | undefined): number {
  const x = Number(a);
  const y = Number(b);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return a === b ? 0 : -1;
  return x - y;
}
