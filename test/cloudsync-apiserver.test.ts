// The test API server honours what the client and cloud sync rely on, checked with the real
// @kubernetes/client-node (not with hand-made HTTP): if these pass, the cloud sync tests
// exercise Kubernetes semantics, not a convenient stub.

import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer, mergePatch } from './k8s/index.js';

const group = 'devices.kubeedge.io';
const version = 'v1beta1';
const model = (name: string) => ({ apiVersion: `${group}/${version}`, kind: 'DeviceModel', metadata: { name, namespace: 'default' }, spec: { properties: [{ name: 't', type: 'INT', accessMode: 'ReadWrite' }] } });

let server: FakeApiServer;
let api: k8s.CustomObjectsApi;
const ref = { group, version, namespace: 'default', plural: 'devicemodels' };
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function waitFor<T>(check: () => T | undefined, what: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setImmediate(tick);
    };
    tick();
  });
}

beforeEach(async () => {
  server = await FakeApiServer.start();
  api = server.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
});
afterEach(async () => server.stop());

describe('test API server (driven by @kubernetes/client-node)', () => {
  it('gives every object and list a resourceVersion; lists page with limit/continue', async () => {
    const created = await api.createNamespacedCustomObject({ ...ref, body: model('a') });
    expect(created.metadata.resourceVersion).toBe('1');
    expect(created.metadata.uid).toMatch(/-/);
    await api.createNamespacedCustomObject({ ...ref, body: model('b') });
    await api.createNamespacedCustomObject({ ...ref, body: model('c') });
    const page1 = await api.listClusterCustomObject({ group, version, plural: 'devicemodels', limit: 2 });
    expect((page1.items as Array<{ metadata: { name: string } }>).map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(page1.metadata.resourceVersion).toBe('3');
    const page2 = await api.listClusterCustomObject({ group, version, plural: 'devicemodels', limit: 2, _continue: page1.metadata.continue });
    expect((page2.items as Array<{ metadata: { name: string } }>).map((o) => o.metadata.name)).toEqual(['c']);
    expect(page2.metadata.continue).toBeUndefined();
  });

  it('409 on a stale resourceVersion (PUT and merge-patch) and on create of an existing name', async () => {
    const a = await api.createNamespacedCustomObject({ ...ref, body: model('a') });
    await api.patchNamespacedCustomObject({ ...ref, name: 'a', body: { metadata: { labels: { x: 'y' } } } }, merge);
    await expect(api.replaceNamespacedCustomObject({ ...ref, name: 'a', body: a })).rejects.toMatchObject({ code: 409 });
    await expect(api.patchNamespacedCustomObject({ ...ref, name: 'a', body: { metadata: { resourceVersion: a.metadata.resourceVersion }, spec: { protocol: 'x' } } }, merge)).rejects.toMatchObject({ code: 409 });
    await expect(api.createNamespacedCustomObject({ ...ref, body: model('a') })).rejects.toMatchObject({ code: 409 });
    const fresh = await api.getNamespacedCustomObject({ ...ref, name: 'a' });
    const ok = await api.patchNamespacedCustomObject({ ...ref, name: 'a', body: { metadata: { resourceVersion: fresh.metadata.resourceVersion }, spec: { protocol: 'x' } } }, merge);
    expect(ok.spec.protocol).toBe('x');
    expect(Number(ok.metadata.resourceVersion)).toBeGreaterThan(Number(fresh.metadata.resourceVersion));
  });

  it('merge-patch follows RFC 7386 (objects merge, arrays replace, null deletes)', () => {
    expect(mergePatch({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null, e: 'x' })).toEqual({ a: { b: 1, c: [3] }, e: 'x' });
    expect(mergePatch({ a: 1 }, [1])).toEqual([1]);
  });

  it('validates writes against the CRD schema: 422 with the field named', async () => {
    const bad = { ...model('bad'), spec: { properties: [{ name: 't', type: 'LONG' }] } };
    await expect(api.createNamespacedCustomObject({ ...ref, body: bad })).rejects.toMatchObject({ code: 422 });
    const unknown = { ...model('unknown'), spec: { nonsense: 1 } };
    await expect(api.createNamespacedCustomObject({ ...ref, body: unknown })).rejects.toMatchObject({ code: 422 });
    await expect(api.createNamespacedCustomObject({ ...ref, body: model('ok') })).resolves.toBeTruthy();
  });

  it('has no /status subresource for the KubeEdge CRDs (404), and honours one when a CRD declares it', async () => {
    await api.createNamespacedCustomObject({ ...ref, body: model('a') });
    await expect(api.patchNamespacedCustomObjectStatus({ ...ref, name: 'a', body: { status: {} } }, merge)).rejects.toMatchObject({ code: 404 });
    const { loadCrds } = await import('./k8s/index.js');
    const crds = loadCrds('devicestatus').map((c) => (c.plural === 'devicestatuses' ? { ...c, statusSubresource: true } : c));
    const s2 = await FakeApiServer.start({ crds });
    try {
      const api2 = s2.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
      const r2 = { group, version, namespace: 'default', plural: 'devicestatuses' };
      const ds = { apiVersion: `${group}/${version}`, kind: 'DeviceStatus', metadata: { name: 'd' }, spec: {}, status: { state: 'ignored' } };
      const created = await api2.createNamespacedCustomObject({ ...r2, body: ds });
      expect(created.status).toBeUndefined(); // status is not set through the main resource
      const st = await api2.patchNamespacedCustomObjectStatus({ ...r2, name: 'd', body: { status: { state: 'online' }, spec: { x: 1 } } }, merge);
      expect(st.status).toEqual({ state: 'online' });
      expect(st.spec).toEqual({}); // and the spec not through /status
      const main = await api2.patchNamespacedCustomObject({ ...r2, name: 'd', body: { status: { state: 'offline' } } }, merge);
      expect(main.status).toEqual({ state: 'online' });
    } finally {
      await s2.stop();
    }
  });

  it('streams ADDED / MODIFIED / DELETED from a resourceVersion, and 410 Gone from a compacted one', async () => {
    const a = await api.createNamespacedCustomObject({ ...ref, body: model('a') });
    const events: string[] = [];
    let done: unknown = 'open';
    const watch = new k8s.Watch(server.kubeConfig());
    const ctl = await watch.watch(`/apis/${group}/${version}/devicemodels`, { resourceVersion: a.metadata.resourceVersion }, (type, obj: { metadata: { name: string } }) => events.push(`${type} ${obj.metadata.name}`), (err: unknown) => {
      done = err;
    });
    await api.createNamespacedCustomObject({ ...ref, body: model('b') });
    await api.patchNamespacedCustomObject({ ...ref, name: 'b', body: { spec: { protocol: 'p' } } }, merge);
    await api.deleteNamespacedCustomObject({ ...ref, name: 'a' });
    await waitFor(() => (events.length === 3 ? true : undefined), 'three events');
    expect(events).toEqual(['ADDED b', 'MODIFIED b', 'DELETED a']);
    ctl.abort();

    server.store.compact();
    const errors: Array<{ type: string; code?: number }> = [];
    await watch.watch(`/apis/${group}/${version}/devicemodels`, { resourceVersion: a.metadata.resourceVersion }, (type, obj: { code?: number }) => errors.push({ type, code: obj.code }), (err: unknown) => {
      done = err;
    });
    await waitFor(() => (errors.length > 0 ? true : undefined), 'the 410 event');
    expect(errors[0]).toEqual({ type: 'ERROR', code: 410 });
    expect(done).toBeNull(); // the server ended the stream
  });

  it('goes down (connection refused) and comes back on the same port', async () => {
    const port = server.port;
    await server.down();
    await expect(api.listClusterCustomObject({ group, version, plural: 'devicemodels' })).rejects.toThrow(/ECONNREFUSED/);
    await server.up();
    expect(server.port).toBe(port);
    await expect(api.listClusterCustomObject({ group, version, plural: 'devicemodels' })).resolves.toMatchObject({ items: [] });
  });
});
