// The test API server's storage: objects by resource, one resourceVersion counter for all (as
// etcd's revision), an event history that can be compacted (watches from before it get 410),
// JSON merge-patch (RFC 7386), and the status subresource rules.

import { randomUUID } from 'node:crypto';
import type { Crd } from './crd.js';

export type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, unknown> & { name: string; namespace?: string; resourceVersion?: string; uid?: string }; spec?: unknown; status?: unknown; [k: string]: unknown };
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface HistoryEvent {
  readonly rv: number;
  readonly plural: string;
  readonly type: EventType;
  readonly object: Obj;
}

/** An API error with the HTTP status and Status reason the server answers with. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly causes: ReadonlyArray<{ field: string; message: string }> = [],
  ) {
    super(message);
  }
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON Merge Patch: objects merge, null deletes, anything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlain(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlain(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const key = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

export class Store {
  rv = 0;
  /** Events at or below this resourceVersion are gone: a watch from before it gets 410. */
  compactedRv = 0;
  readonly history: HistoryEvent[] = [];
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly listeners = new Set<(e: HistoryEvent) => void>();

  constructor(readonly crds: ReadonlyMap<string, Crd>) {
    for (const plural of crds.keys()) this.objects.set(plural, new Map());
  }

  crd(plural: string): Crd {
    const c = this.crds.get(plural);
    if (!c) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return c;
  }

  onEvent(fn: (e: HistoryEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  list(plural: string, ns?: string): Obj[] {
    this.crd(plural);
    return [...this.objects.get(plural)!.values()].filter((o) => ns === undefined || o.metadata.namespace === ns).sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)));
  }

  get(plural: string, ns: string, name: string): Obj {
    const o = this.objects.get(plural)?.get(key(ns, name));
    if (!o) throw new ApiError(404, 'NotFound', `${plural}.${this.crd(plural).group} "${name}" not found`);
    return structuredClone(o);
  }

  /** Compacts the history: watches from any resourceVersion seen so far must relist. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  private validate(plural: string, obj: Obj): void {
    const crd = this.crd(plural);
    const problems = crd.validate(obj);
    if (obj.apiVersion !== `${crd.group}/${crd.version}`) problems.push({ path: '/apiVersion', message: `must be ${crd.group}/${crd.version}` });
    if (obj.kind !== crd.kind) problems.push({ path: '/kind', message: `must be ${crd.kind}` });
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name)) problems.push({ path: '/metadata/name', message: 'must be a DNS-1123 subdomain' });
    if (problems.length > 0) {
      throw new ApiError(422, 'Invalid', `${crd.kind}.${crd.group} "${obj.metadata.name}" is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join(', ')}`, problems.map((p) => ({ field: p.path, message: p.message })));
    }
  }

  private commit(plural: string, type: EventType, obj: Obj): Obj {
    const map = this.objects.get(plural)!;
    const k = key(obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') map.delete(k);
    else map.set(k, obj);
    const e: HistoryEvent = { rv: this.rv, plural, type, object: structuredClone(obj) };
    this.history.push(e);
    for (const l of this.listeners) l(e);
    return structuredClone(obj);
  }

  create(plural: string, ns: string, body: Obj): Obj {
    const crd = this.crd(plural);
    const name = body.metadata?.name;
    if (typeof name !== 'string') throw new ApiError(422, 'Invalid', 'metadata.name: Required value');
    if (this.objects.get(plural)!.has(key(ns, name))) throw new ApiError(409, 'AlreadyExists', `${crd.plural}.${crd.group} "${name}" already exists`);
    const obj: Obj = structuredClone(body);
    if (crd.statusSubresource) delete obj.status;
    obj.metadata = { ...obj.metadata, namespace: ns, uid: randomUUID(), resourceVersion: String(this.rv + 1), generation: 1, creationTimestamp: new Date().toISOString() };
    this.validate(plural, obj);
    this.rv++;
    return this.commit(plural, 'ADDED', obj);
  }

  /**
   * Replaces an object with `next` (from PUT or a merge-patch). `precondition` is the
   * resourceVersion the client sent, if any: stale → 409. On the main resource of a CRD with a
   * status subresource the status is kept; on /status only the status changes.
   */
  update(plural: string, ns: string, name: string, next: Obj, precondition: string | undefined, subresource: 'status' | undefined): Obj {
    const crd = this.crd(plural);
    if (subresource === 'status' && !crd.statusSubresource) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const current = this.get(plural, ns, name);
    if (precondition !== undefined && precondition !== current.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${crd.plural}.${crd.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    let obj: Obj;
    if (subresource === 'status') obj = { ...current, status: next.status };
    else if (crd.statusSubresource) obj = { ...next, status: current.status };
    else obj = next;
    if (obj.status === undefined) delete obj.status;
    // Identity and server-owned metadata cannot be changed by a write.
    obj.metadata = { ...obj.metadata, name, namespace: ns, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp, resourceVersion: current.metadata.resourceVersion };
    const unchanged = JSON.stringify(obj) === JSON.stringify(current);
    if (unchanged) return current; // a no-op write does not bump the resourceVersion (as etcd)
    const specChanged = JSON.stringify(obj.spec) !== JSON.stringify(current.spec) || (!crd.statusSubresource && JSON.stringify(obj.status) !== JSON.stringify(current.status));
    obj.metadata.generation = (Number(current.metadata.generation) || 1) + (specChanged ? 1 : 0);
    obj.metadata.resourceVersion = String(this.rv + 1);
    this.validate(plural, obj);
    this.rv++;
    return this.commit(plural, 'MODIFIED', obj);
  }

  patch(plural: string, ns: string, name: string, patch: unknown, subresource: 'status' | undefined): Obj {
    if (!isPlain(patch)) throw new ApiError(400, 'BadRequest', 'a merge patch must be a JSON object');
    const current = this.get(plural, ns, name);
    const precondition = isPlain(patch.metadata) && typeof patch.metadata.resourceVersion === 'string' ? patch.metadata.resourceVersion : undefined;
    return this.update(plural, ns, name, mergePatch(current, patch) as Obj, precondition, subresource);
  }

  delete(plural: string, ns: string, name: string): Obj {
    const current = this.get(plural, ns, name);
    this.rv++;
    current.metadata.resourceVersion = String(this.rv);
    const gone = this.commit(plural, 'DELETED', current);
    // Garbage collection of dependents (a DeviceStatus owned by its Device).
    for (const [p, map] of this.objects) {
      for (const o of [...map.values()]) {
        const owners = (o.metadata.ownerReferences as Array<{ uid?: string }> | undefined) ?? [];
        if (owners.some((r) => r.uid === current.metadata.uid)) this.delete(p, o.metadata.namespace ?? '', o.metadata.name);
      }
    }
    return gone;
  }
}
