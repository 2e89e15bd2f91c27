// The two writes cloud sync makes, each one device at a time: the status (DeviceStatus, created
// with an owner reference when missing, or Device.status), and an edge-side desired value into
// the Device spec. Both are merge-patches carrying the resourceVersion last seen, so a
// concurrent change is a 409, answered by re-reading the object and deciding again.

import type { Logger } from 'pino';
import { edgetwinError, type EdgetwinError } from '../errors.js';
import { API_VERSION, callError, isUnreachable, statusOf, type KubeApi, type KubeObject, type Plural } from './kube.js';
import type { Outcome } from './scheduler.js';
import { crdTwins, patchBody, protectNewer, statusOf as statusObject, type StatusLayout } from './status.js';
import type { ClusterDevice } from './membership.js';
import type { StateRow, StatusRow } from './outbox.js';

/** Attempts of one write when 409s keep coming (each re-reads the object first). */
const CONFLICT_ATTEMPTS = 4;

export interface WriterDeps {
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly layout: StatusLayout;
  readonly statusSubresource: boolean;
  device(id: string): ClusterDevice | undefined;
  rows(id: string): ReadonlyMap<string, StatusRow> | undefined;
  state(id: string): StateRow | undefined;
  /** The object the status lives on, as last seen (informer cache). */
  current(plural: Plural, namespace: string, name: string): KubeObject | undefined;
  /** Feeds an object read or written here back into the informer cache. */
  observe(plural: Plural, object: KubeObject): void;
  /** The write of this snapshot succeeded: clear what is still at the sequence sent. */
  acked(id: string, sent: ReadonlyMap<string, number>, stateSeq: number | undefined): void;
  problem(id: string, error: EdgetwinError | undefined): void;
}

type Attempt = { readonly ok: true; readonly object: KubeObject } | { readonly ok: false; readonly err: unknown };

async function attempt(fn: () => Promise<KubeObject>): Promise<Attempt> {
  try {
    return { ok: true, object: await fn() };
  } catch (err) {
    return { ok: false, err };
  }
}

export class StatusWriter {
  constructor(private readonly d: WriterDeps) {}

  private get plural(): Plural {
    return this.d.layout === 'devicestatus' ? 'devicestatuses' : 'devices';
  }

  /** Writes the device's whole status (merge-patch replaces the twins array). */
  async write(id: string): Promise<Outcome> {
    const dev = this.d.device(id);
    if (!dev) return 'done';
    const ns = dev.instance.namespace;
    const name = dev.instance.name;
    const rows = this.d.rows(id);
    const sent = new Map<string, number>();
    for (const p of dev.reported) {
      const r = rows?.get(p);
      if (r) sent.set(p, r.seq);
    }
    const stateRow = this.d.state(id);
    const twins = crdTwins(dev.reported, rows);
    const status = statusObject(twins, undefined, stateRow ? { state: stateRow.state, lastOnline: stateRow.lastOnline } : { state: 'unknown', lastOnline: '' });
    let current = this.d.current(this.plural, ns, name);
    for (let i = 0; i < CONFLICT_ATTEMPTS; i++) {
      const creating = this.d.layout === 'devicestatus' && !current;
      const res = await attempt(() =>
        creating
          ? this.d.api.create('devicestatuses', ns, this.newDeviceStatus(dev, status))
          : this.d.api.mergePatch(
              this.plural,
              ns,
              name,
              patchBody({ ...status, twins: protectNewer(twins, current?.status?.twins) }, current?.metadata.resourceVersion),
              { status: this.d.statusSubresource },
            ),
      );
      if (res.ok && creating && this.d.statusSubresource) {
        // A create drops the status of a resource with a status subresource: write it through /status.
        this.d.observe(this.plural, res.object);
        current = res.object;
        i--;
        continue;
      }
      if (res.ok) {
        this.d.observe(this.plural, res.object);
        this.d.acked(id, sent, stateRow?.seq);
        this.d.problem(id, undefined);
        return 'done';
      }
      const code = statusOf(res.err);
      if (code === 409 || (code === 404 && !creating)) {
        // Stale resourceVersion, already created, or gone: read what is there now and decide again.
        const fresh = await attempt(() => this.d.api.get(this.plural, ns, name));
        if (fresh.ok) {
          this.d.observe(this.plural, fresh.object);
          current = fresh.object;
          continue;
        }
        if (statusOf(fresh.err) === 404 && this.d.layout === 'devicestatus') {
          current = undefined;
          continue;
        }
        if (statusOf(fresh.err) === 404) return 'done'; // the Device itself is gone: its watch event follows
        return this.fail(id, `read ${this.plural} ${ns}/${name}`, fresh.err);
      }
      return this.fail(id, `${creating ? 'create' : 'patch'} ${this.plural} ${ns}/${name}`, res.err);
    }
    this.d.problem(id, edgetwinError('EDGETWIN_ERR_CLOUD_CONFLICT', `status of ${id}: still conflicting after ${CONFLICT_ATTEMPTS} attempts`));
    return 'retry';
  }

  /**
   * Writes edge-side desired values into the Device spec. `decide` is called with the freshest
   * Device (again after every 409) and returns the values still to push (the cloud may have
   * changed meanwhile, and then wins).
   */
  async pushDesired(id: string, decide: (device: KubeObject) => ReadonlyMap<string, string>, pushed: (values: ReadonlyMap<string, string>) => void): Promise<Outcome> {
    const dev = this.d.device(id);
    if (!dev) return 'done';
    const ns = dev.instance.namespace;
    const name = dev.instance.name;
    let object = this.d.current('devices', ns, name) ?? dev.object;
    for (let i = 0; i < CONFLICT_ATTEMPTS; i++) {
      const values = decide(object);
      if (values.size === 0) return 'done';
      const props = Array.isArray(object.spec?.properties) ? (object.spec.properties as Array<Record<string, unknown>>) : [];
      const properties = props.map((p) => {
        const v = typeof p.name === 'string' ? values.get(p.name) : undefined;
        if (v === undefined) return p;
        const desired = (p.desired ?? {}) as Record<string, unknown>;
        return { ...p, desired: { ...desired, value: v } };
      });
      const body = { metadata: { resourceVersion: object.metadata.resourceVersion }, spec: { properties } };
      const res = await attempt(() => this.d.api.mergePatch('devices', ns, name, body));
      if (res.ok) {
        this.d.observe('devices', res.object);
        pushed(values);
        return 'done';
      }
      if (statusOf(res.err) === 409) {
        const fresh = await attempt(() => this.d.api.get('devices', ns, name));
        if (!fresh.ok) return statusOf(fresh.err) === 404 ? 'done' : this.fail(id, `read devices ${ns}/${name}`, fresh.err);
        this.d.observe('devices', fresh.object);
        object = fresh.object;
        continue;
      }
      if (statusOf(res.err) === 404) return 'done';
      return this.fail(id, `patch devices ${ns}/${name} (desired)`, res.err);
    }
    this.d.problem(id, edgetwinError('EDGETWIN_ERR_CLOUD_CONFLICT', `desired of ${id}: still conflicting after ${CONFLICT_ATTEMPTS} attempts`));
    return 'retry';
  }

  private fail(id: string, what: string, err: unknown): Outcome {
    const e = callError(what, err);
    this.d.problem(id, e);
    if (isUnreachable(err)) return 'unreachable';
    this.d.logger.error({ device: id, code: e.code }, `cloud sync: ${e.message}`);
    return 'failed';
  }

  /** KubeEdge ≥ 1.23: the DeviceStatus has the Device's name and is owned by it (garbage-collected with it). */
  private newDeviceStatus(dev: ClusterDevice, status: Record<string, unknown>): KubeObject {
    const uid = dev.object.metadata.uid;
    return {
      apiVersion: API_VERSION,
      kind: 'DeviceStatus',
      metadata: {
        name: dev.instance.name,
        namespace: dev.instance.namespace,
        ...(uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: 'Device', name: dev.instance.name, uid, controller: true, blockOwnerDeletion: true }] } : {}),
      },
      spec: {},
      status,
    };
  }
}
