// A Kubernetes API server for tests (there is no kube-apiserver on these machines;
// reference/dependencies.md §9): plain node http serving the custom resources of the given CRDs
// with what @kubernetes/client-node relies on — resourceVersion on every object and list
// (paged with limit/continue), 409 on a stale write, 410 on a watch from a compacted version,
// merge-patch, the status subresource when the CRD declares one, NDJSON watch streams with
// ADDED/MODIFIED/DELETED (and BOOKMARK), validation against the CRD schema (422). It can go
// down and come back on the same port, fail chosen requests, and counts every call and byte.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { loadCrds, type Crd } from './crd.js';
import { ApiError, Store, type HistoryEvent, type Obj } from './store.js';

export interface RequestRecord {
  readonly method: string;
  readonly verb: 'list' | 'watch' | 'get' | 'create' | 'update' | 'patch' | 'delete' | 'other';
  readonly plural: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
  readonly status: number;
  readonly bytesIn: number;
  readonly body?: unknown;
  readonly at: number;
}

export interface Fault {
  /** Which requests fail (checked in order; the first match with times left applies). */
  readonly match: (r: Pick<RequestRecord, 'method' | 'verb' | 'plural' | 'name' | 'subresource'>) => boolean;
  readonly status: number;
  times: number;
}

interface Watcher {
  readonly plural: string;
  readonly namespace?: string;
  readonly res: ServerResponse;
}

export interface FakeApiServerOptions {
  /** Which CRD set to serve: KubeEdge ≥ 1.23 (DeviceStatus) or ≤ 1.22 (status on Device). */
  readonly layout?: 'devicestatus' | 'device';
  /** Override: serve these CRDs instead. */
  readonly crds?: readonly Crd[];
}

export class FakeApiServer {
  readonly store: Store;
  readonly requests: RequestRecord[] = [];
  readonly faults: Fault[] = [];
  /** Response bytes written (bodies and watch streams). */
  bytesOut = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watchers = new Set<Watcher>();
  private portNumber = 0;

  constructor(opts: FakeApiServerOptions = {}) {
    const crds = opts.crds ?? loadCrds(opts.layout ?? 'devicestatus');
    this.store = new Store(new Map(crds.map((c) => [c.plural, c])));
    this.store.onEvent((e) => this.broadcast(e));
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await s.up();
    return s;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  /** A KubeConfig for the real client (plain http needs skipTLSVerify, dependencies.md §9). */
  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 't', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'test-token' }],
      contexts: [{ name: 'c', cluster: 't', user: 'u', namespace: 'default' }],
      currentContext: 'c',
    });
    return kc;
  }

  /** Listens (again) on the same port: connection refused while down, served after. */
  async up(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portNumber, '127.0.0.1', () => resolve());
    });
    this.portNumber = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Goes away: open watches and keep-alive connections are cut, new ones refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  async stop(): Promise<void> {
    await this.down();
  }

  /** Ends every open watch with 410 Gone (as after an etcd compaction) and compacts the history. */
  expireWatches(): void {
    this.store.compact();
    for (const w of this.watchers) this.endWatch(w, { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } });
  }

  /** Closes every open watch normally (as the server's watch timeout does). */
  closeWatches(): void {
    for (const w of this.watchers) this.endWatch(w);
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  /** Fails the next `times` requests that `match` with `status`. */
  fail(match: Fault['match'], status: number, times = 1): void {
    this.faults.push({ match, status, times });
  }

  count(filter: Partial<Pick<RequestRecord, 'verb' | 'plural' | 'method'>> = {}): number {
    return this.requests.filter((r) => Object.entries(filter).every(([k, v]) => r[k as keyof RequestRecord] === v)).length;
  }

  // ---- user-side helpers: what kubectl would do ----

  apply(plural: string, obj: Obj): Obj {
    const ns = obj.metadata.namespace ?? 'default';
    try {
      const current = this.store.get(plural, ns, obj.metadata.name);
      return this.store.update(plural, ns, obj.metadata.name, { ...obj, metadata: { ...current.metadata, ...obj.metadata }, ...(current.status !== undefined && obj.status === undefined ? { status: current.status } : {}) }, undefined, undefined);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return this.store.create(plural, ns, obj);
      throw err;
    }
  }

  private endWatch(w: Watcher, last?: unknown): void {
    this.watchers.delete(w);
    if (last) this.write(w.res, last);
    w.res.end();
  }

  private write(res: ServerResponse, event: unknown): void {
    const line = `${JSON.stringify(event)}\n`;
    this.bytesOut += Buffer.byteLength(line);
    res.write(line);
  }

  private broadcast(e: HistoryEvent): void {
    for (const w of this.watchers) {
      if (w.plural === e.plural && (w.namespace === undefined || w.namespace === e.object.metadata.namespace)) this.write(w.res, { type: e.type, object: e.object });
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(url.pathname);
      const method = req.method ?? 'GET';
      const watch = url.searchParams.get('watch') === 'true';
      const info = {
        method,
        plural: m?.[4] ?? '',
        ...(m?.[3] ? { namespace: m[3] } : {}),
        ...(m?.[5] ? { name: m[5] } : {}),
        ...(m?.[6] ? { subresource: m[6] } : {}),
      };
      const verb: RequestRecord['verb'] = !m
        ? 'other'
        : method === 'GET'
          ? watch
            ? 'watch'
            : info.name
              ? 'get'
              : 'list'
          : method === 'POST'
            ? 'create'
            : method === 'PUT'
              ? 'update'
              : method === 'PATCH'
                ? 'patch'
                : method === 'DELETE'
                  ? 'delete'
                  : 'other';
      let body: unknown;
      const record = (status: number): void => {
        this.requests.push({ ...info, verb, status, bytesIn: raw.length, ...(body !== undefined ? { body } : {}), at: Date.now() });
      };
      try {
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new ApiError(400, 'BadRequest', 'the body is not JSON');
          }
        }
        const fault = this.faults.find((f) => f.times > 0 && f.match({ ...info, verb }));
        if (fault) {
          fault.times--;
          throw new ApiError(fault.status, fault.status === 409 ? 'Conflict' : 'InternalError', `injected ${fault.status}`);
        }
        if (!m || m[1] !== 'devices.kubeedge.io' || m[2] !== 'v1beta1') throw new ApiError(404, 'NotFound', `no route ${url.pathname}`);
        if (!/^Bearer .+/.test(req.headers.authorization ?? '')) throw new ApiError(401, 'Unauthorized', 'no bearer token');
        if (verb === 'watch') {
          record(200);
          this.startWatch(info.plural, info.namespace, url.searchParams.get('resourceVersion') ?? '', res);
          return;
        }
        const out = this.dispatch(verb, info, body, url.searchParams, req.headers['content-type'] ?? '');
        record(verb === 'create' ? 201 : 200);
        this.respond(res, verb === 'create' ? 201 : 200, out);
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', String(err));
        record(e.code);
        this.respond(res, e.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code, ...(e.causes.length > 0 ? { details: { causes: e.causes } } : {}) });
      }
    });
  }

  private respond(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    this.bytesOut += Buffer.byteLength(text);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  }

  private dispatch(verb: RequestRecord['verb'], info: { plural: string; namespace?: string; name?: string; subresource?: string }, body: unknown, q: URLSearchParams, contentType: string): unknown {
    const { plural, namespace: ns = '', name = '' } = info;
    const sub = info.subresource === 'status' ? 'status' : undefined;
    const crd = this.store.crd(plural);
    switch (verb) {
      case 'list': {
        const all = this.store.list(plural, info.namespace);
        const limit = Number(q.get('limit') ?? 0);
        const cont = q.get('continue');
        const start = cont ? Number(Buffer.from(cont, 'base64url').toString().split(':')[1]) : 0;
        const rv = cont ? Buffer.from(cont, 'base64url').toString().split(':')[0]! : String(this.store.rv);
        const items = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
        const more = limit > 0 && start + limit < all.length;
        return {
          apiVersion: `${crd.group}/${crd.version}`,
          kind: `${crd.kind}List`,
          metadata: { resourceVersion: rv, ...(more ? { continue: Buffer.from(`${rv}:${start + limit}`).toString('base64url') } : {}) },
          items,
        };
      }
      case 'get':
        return this.store.get(plural, ns, name);
      case 'create':
        return this.store.create(plural, ns, body as Obj);
      case 'update': {
        const obj = body as Obj;
        if (typeof obj?.metadata?.resourceVersion !== 'string') throw new ApiError(422, 'Invalid', 'metadata.resourceVersion: must be specified for an update');
        return this.store.update(plural, ns, name, obj, obj.metadata.resourceVersion, sub);
      }
      case 'patch':
        if (!contentType.startsWith('application/merge-patch+json')) throw new ApiError(415, 'UnsupportedMediaType', `only merge-patch here, got ${contentType}`);
        return this.store.patch(plural, ns, name, body, sub);
      case 'delete':
        return this.store.delete(plural, ns, name);
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'not supported');
    }
  }

  private startWatch(plural: string, namespace: string | undefined, from: string, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // The client's fetch resolves on the headers: send them now, not with the first event.
    res.flushHeaders();
    const w: Watcher = { plural, ...(namespace !== undefined ? { namespace } : {}), res };
    res.on('close', () => this.watchers.delete(w));
    const rv = Number(from || 0);
    if (from === '' || from === '0') {
      // "Start at most recent": synthetic ADDED for everything that exists.
      for (const o of this.store.list(plural, namespace)) this.write(res, { type: 'ADDED', object: o });
    } else if (rv < this.store.compactedRv) {
      this.endWatch(w, { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: `too old resource version: ${rv} (${this.store.compactedRv})` } });
      return;
    } else {
      for (const e of this.store.history) {
        if (e.rv > rv && e.plural === plural && (namespace === undefined || e.object.metadata.namespace === namespace)) this.write(res, { type: e.type, object: e.object });
      }
    }
    this.watchers.add(w);
  }
}
