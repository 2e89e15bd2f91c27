// The cluster unreachable, seen from the whole node (cloud sync's own behaviour under outages,
// 410s and 409s is tested in cloudsync-offline.test.ts): while the API server is down the node
// keeps serving its devices over MQTT, answering and committing every update, reports cloud sync
// as degraded (not as unready), and when the cluster is back the latest values reach it.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { resolveConfig } from '../schemas/index.js';
import { tempDir, TestClient } from './helpers.js';
import { FakeApiServer } from './k8s/index.js';
import { clusterStatus, device, deviceModel, twinOf, waitFor } from './k8s/fixtures.js';

const DEV = '$hw/events/device/default/d0';

describe('the cluster unreachable', () => {
  const tmp = tempDir('edgetwin-cloud-fault-');
  let server: FakeApiServer;
  let core: EdgeCore;

  beforeAll(async () => {
    server = await FakeApiServer.start();
    server.apply('devicemodels', deviceModel('thermo'));
    server.apply('devices', device('d0', { node: 'edge-test' }));
    const kubeconfig = path.join(tmp.dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: t, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]\n` +
        `users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: t, user: u}}]\ncurrent-context: c\n`,
    );
    const config = resolveConfig({
      nodeName: 'edge-test',
      dataDir: path.join(tmp.dir, 'data'),
      mqtt: { port: 0 },
      mappers: { enabled: [] },
      metrics: { enabled: false },
      cloud: { kubeconfig, reportCycle: 100 },
    });
    core = new EdgeCore({ config, logger: silentLogger() });
    await core.start();
  });

  afterAll(async () => {
    await core?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('keeps serving and committing while the API server is down, and syncs the latest values when it is back', async () => {
    await waitFor(() => core.twin.get('default/d0'), 'the cluster device bound');
    await server.down();
    const client = await TestClient.connect(core.brokerUrl, [`${DEV}/twin/update/result`, `${DEV}/twin/get/result`]);
    try {
      for (let i = 1; i <= 20; i++) {
        const from = client.count;
        await client.publish(`${DEV}/twin/update`, { event_id: `off-${i}`, twin: { temperature: { actual: { value: String(20 + i / 10) } } } });
        const answer = await client.next(`${DEV}/twin/update/result`, (j) => j.event_id === `off-${i}`, 5000, from);
        expect(answer.json.error_code).toBeUndefined();
      }
      const health = await waitFor(() => {
        const h = core.cloudSync?.health();
        return h?.writer.state === 'offline' ? h : undefined;
      }, 'cloud sync to notice the outage');
      expect(health.state).toBe('degraded');
      expect(health.writer.pending).toBeGreaterThan(0);
      // An edge node serves without its cluster: readiness stays green, cloud sync says why not synced.
      expect(core.readiness()).toMatchObject({ ready: true, checks: { cloudSync: { ok: true, detail: 'degraded' } } });

      await server.up();
      await waitFor(() => twinOf(clusterStatus(server, 'd0'), 'temperature')?.reported?.value === '22', 'the latest value in the cluster', 20_000);
      expect(core.twin.get('default/d0')?.twins.temperature?.actual?.value).toBe('22');
    } finally {
      await client.close();
    }
  }, 30_000);
});
