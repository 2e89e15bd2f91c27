// Sinks follow the node's devices while it runs (telemetry/push.ts setDevices): a pushMethod
// added to a manifest starts pushing after a reload, a changed one is rebuilt, a removed device's
// sink stops (its backlog kept on disk), and an unchanged sink carries on untouched.

import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinClient } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';
import { startHttpReceiver } from '../bench/sink-servers.js';
import { eventually } from './async.js';
import { startEdge, type TestEdge } from './helpers.js';

function device(name: string, push = ''): string {
  return `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: ${name}, namespace: default }
spec:
  deviceModelRef: { name: thermostat }
  nodeName: edge-test
  protocol: { protocolName: external }
  properties:
    - name: temperature
      reportCycle: 100
${push ? `      pushMethod:\n${push}\n` : ''}    - name: setpoint
`;
}

describe('telemetry sinks follow reloads', () => {
  let edge: TestEdge;
  let http: Awaited<ReturnType<typeof startHttpReceiver>>;
  let bus: MqttBus;
  let twins: TwinClient;
  const push = (requestPath: string): string => `        http: { hostName: "127.0.0.1", port: ${http.port}, requestPath: ${requestPath} }`;
  const bodies = (): string[] => http.posts.map((p) => p.body);

  beforeAll(async () => {
    http = await startHttpReceiver();
    await http.start();
    edge = await startEdge({ 'a.yaml': device('a'), 'b.yaml': device('b') });
    bus = new MqttBus({ url: edge.url });
    await bus.start();
    twins = new TwinClient(bus);
  });

  afterAll(async () => {
    await bus?.close();
    await edge?.stop();
    await http?.stop();
  });

  it('a pushMethod added by a reload pushes; removing its device stops it; an unchanged sink carries on', { timeout: 120_000 }, async () => {
    const devices = path.join(edge.dir, 'devices');
    expect(edge.core.sinkStats()).toEqual([]);
    writeFileSync(path.join(devices, 'a.yaml'), device('a', push('/a')));
    writeFileSync(path.join(devices, 'b.yaml'), device('b', push('/b')));
    await edge.core.reload();
    await eventually(async () => (edge.core.sinkStats().length === 2 ? true : undefined), 20_000);
    await twins.reportActual('default/a', { temperature: '21.5' });
    await twins.reportActual('default/b', { temperature: '22.5' });
    await eventually(async () => (bodies().some((b) => b.startsWith('temperature=21.5')) && bodies().some((b) => b.startsWith('temperature=22.5')) ? true : undefined), 20_000);

    // b leaves the node; a is unchanged and keeps its sink (same object: its count carries on).
    const before = edge.core.sinkStats().find((s) => s.name === 'http:default/a/temperature')!;
    rmSync(path.join(devices, 'b.yaml'));
    await edge.core.reload();
    await eventually(async () => (edge.core.sinkStats().length === 1 ? true : undefined), 20_000);
    const after = edge.core.sinkStats()[0]!;
    expect(after.name).toBe('http:default/a/temperature');
    expect(after.delivered).toBeGreaterThanOrEqual(before.delivered);
    await twins.reportActual('default/a', { temperature: '23.5' });
    await eventually(async () => (bodies().some((x) => x.startsWith('temperature=23.5')) ? true : undefined), 20_000);

    // a's method changes (another path): rebuilt, the new path gets the next value.
    writeFileSync(path.join(devices, 'a.yaml'), device('a', push('/a2')));
    await edge.core.reload();
    await eventually(async () => (edge.core.sinkStats()[0]?.delivered === 0 ? true : undefined), 20_000);
    await twins.reportActual('default/a', { temperature: '24.5' });
    await eventually(async () => (bodies().some((x) => x.startsWith('temperature=24.5')) ? true : undefined), 20_000);
    expect(edge.core.sinkStats()[0]).toMatchObject({ name: 'http:default/a/temperature', delivered: 1 });
  });
});
