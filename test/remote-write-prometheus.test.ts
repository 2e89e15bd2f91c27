// Remote write against a real Prometheus (Debian's 2.42 with --web.enable-remote-write-receiver):
// what RemoteWriteSink.deliver() writes is read back with PromQL; a refusal (4xx) and the
// receiver's trouble (5xx, 429, no one listening, a timeout) are told apart by code; a real
// EdgeCore writes its own metrics every interval.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import snappy from 'snappyjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { isEdgetwinError } from '../errors.js';
import { OwnMetricsWriter, RemoteWriteClient, RemoteWriteSink, type SinkRecord } from '../telemetry/index.js';
import { silentLogger } from '../edgecore/index.js';
import { eventually } from './async.js';
import { TestClient, startEdge, tempDir, thermostatManifest, type TestEdge } from './helpers.js';
import { requirePeer } from './peers.js';
import { startPrometheus, type TestPrometheus } from './prometheus-fixture.js';

const never = new AbortController().signal;

function rec(property: string, value: SinkRecord['value'], timestamp: number, unit?: string, device = 'default/thermo'): SinkRecord {
  return { key: `${device}/${property}/${timestamp}`, device, property, value, timestamp, ...(unit !== undefined ? { unit } : {}) };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return isEdgetwinError(err) ? err.code : `not coded: ${String(err)}`;
  }
}

/** An HTTP server on a free port that answers every request with `status` and records what it got. */
async function fakeReceiver(status: number, delayMs = 0): Promise<{ url: string; requests: Array<{ headers: IncomingMessage['headers']; body: Buffer }>; close: () => Promise<void> }> {
  const requests: Array<{ headers: IncomingMessage['headers']; body: Buffer }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
      setTimeout(() => res.writeHead(status).end(status >= 400 ? `answer ${status}` : ''), delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!requirePeer('prometheus'))('remote write to a real Prometheus', () => {
  let prom: TestPrometheus;

  beforeAll(async () => {
    prom = await startPrometheus();
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
  });

  it('deliver() writes device values that PromQL reads back: values, units, booleans as 1/0, in time order', async () => {
    const sink = new RemoteWriteSink({ url: prom.writeUrl, timeoutMs: 10_000, labels: { node: 'edge-test' } });
    const t = Date.now() - 5_000;
    const batch = [rec('temperature', 21.5, t, 'Celsius'), rec('temperature', 21.75, t + 1000, 'Celsius'), rec('power', true, t + 1000), rec('mode', 'heat', t + 1000), rec('energy', 12.5, t + 2000, 'kWh', 'default/meter')];
    await sink.deliver(batch, never);
    const at = (t + 3000) / 1000;
    const temperature = await prom.query('edgetwin_device_property_value{property="temperature"}', at);
    expect(temperature).toEqual([{ metric: { __name__: 'edgetwin_device_property_value', device: 'default/thermo', node: 'edge-test', property: 'temperature', unit: 'Celsius' }, value: [at, '21.75'] }]);
    expect((await prom.query('count_over_time(edgetwin_device_property_value{property="temperature"}[1m])', at))[0]?.value[1]).toBe('2');
    expect((await prom.query('edgetwin_device_property_value{property="power"}', at))[0]?.value[1]).toBe('1');
    expect((await prom.query('edgetwin_device_property_value{device="default/meter"}', at))[0]?.metric.unit).toBe('kWh');
    // A string value is not a sample: nothing was written for it.
    expect(await prom.query('edgetwin_device_property_value{property="mode"}', at)).toEqual([]);
    // At least once: the outbox delivers a batch again after an unclear failure. What this sink
    // wrote is not sent again (Prometheus would refuse the whole request as out of order).
    await sink.deliver(batch, never);
    expect(sink.stats()).toMatchObject({ requests: 1, failures: 0, refusals: 0, samples: 4, samplesRepeated: 4 });
    // After a restart (a new sink) the backlog's first batch comes again with a new value: the
    // request is refused whole (400 out of order), then sent sample by sample, and the new value gets in.
    const restarted = new RemoteWriteSink({ url: prom.writeUrl, timeoutMs: 10_000, labels: { node: 'edge-test' } });
    await restarted.deliver([...batch, rec('temperature', 22, t + 2500, 'Celsius')], never);
    expect((await prom.query('edgetwin_device_property_value{property="temperature"}', at))[0]?.value[1]).toBe('22');
    expect((await prom.query('count_over_time(edgetwin_device_property_value{property="temperature"}[1m])', at))[0]?.value[1]).toBe('3');
    expect(restarted.stats().refusals).toBeGreaterThan(0);
    expect(restarted.stats().samplesRefused).toBeGreaterThan(0);
  });

  it('a batch Prometheus refuses (a sample 3 h old: 400 out of bounds) is EDGETWIN_ERR_REMOTE_WRITE_REFUSED, not retryable', async () => {
    const sink = new RemoteWriteSink({ url: prom.writeUrl, timeoutMs: 10_000 });
    const err = await sink.deliver([rec('temperature', 20, Date.now() - 3 * 3600_000)], never).catch((e: unknown) => e);
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED')).toBe(true);
    expect((err as Error).message).toMatch(/refused with 400: .*out of bounds/);
    expect(sink.stats()).toMatchObject({ refusals: 1 });
  });

  it('edgetwin own metrics: a registry snapshot written by OwnMetricsWriter reads back', async () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'edgetwin_test_own_gauge', help: 'x', labelNames: ['kind'], registers: [registry] });
    g.set({ kind: 'a' }, 42);
    const writer = new OwnMetricsWriter({ client: new RemoteWriteClient({ url: prom.writeUrl, timeoutMs: 10_000 }), snapshot: () => registry.getMetricsAsJSON(), intervalMs: 60_000, labels: { node: 'n1' }, logger: silentLogger() });
    await writer.writeNow();
    expect(writer.stats()).toEqual({ written: 1, dropped: 0 });
    const got = await eventually(async () => (await prom.query('edgetwin_test_own_gauge'))[0]);
    expect(got).toMatchObject({ metric: { __name__: 'edgetwin_test_own_gauge', kind: 'a', node: 'n1' }, value: [expect.any(Number), '42'] });
    await writer.stop();
  });

  describe('a real EdgeCore with telemetry.remoteWrite', () => {
    let edge: TestEdge;
    beforeAll(async () => {
      edge = await startEdge({ 'thermo.yaml': thermostatManifest('thermo') }, { nodeName: 'edge-rw', http: { port: 0 }, mappers: { enabled: [] }, telemetry: { prometheus: { devices: { 'default/thermo': { enabled: true } } }, remoteWrite: { url: prom.writeUrl, interval: '1s' } } });
    });
    afterAll(async () => {
      await edge?.stop();
    });

    it('writes its own metrics every interval and the device values through the outbox, labelled with the node', async () => {
      const client = await TestClient.connect(edge.url);
      await client.publish('$hw/events/device/default/thermo/twin/update', { twin: { temperature: { actual: { value: '21.5' } } } });
      await client.next('$hw/events/device/default/thermo/twin/update/result');
      await client.close();
      // /metrics has the device value; the own-metrics snapshot leaves it to the outbox's sink.
      const text = await (await fetch(`${edge.core.metricsUrl!}/metrics`)).text();
      expect(text).toContain('edgetwin_device_property_value{device="default/thermo",property="temperature",unit="Celsius"} 21.5');
      const info = await eventually(async () => (await prom.query('edgetwin_build_info{node="edge-rw"}'))[0], 30_000);
      expect(info.value[1]).toBe('1');
      // A snapshot taken after the report: it counts the applied update.
      const applied = await eventually(async () => (await prom.query('sum(edgetwin_twin_updates_total{node="edge-rw",outcome="applied"}) >= 1'))[0], 30_000);
      expect(Number(applied.value[1])).toBeGreaterThanOrEqual(1);
      expect((await prom.query('edgetwin_store_commit_duration_seconds_count{node="edge-rw"}')).length).toBe(1);
      // Device values come through the telemetry outbox (RemoteWriteSink as a shared sink), at the
      // twin's timestamps; the own-metrics snapshot leaves out every device series.
      const value = await eventually(async () => (await prom.query('edgetwin_device_property_value{node="edge-rw",device="default/thermo",property="temperature"}'))[0], 30_000);
      expect(value.value[1]).toBe('21.5');
      expect(value.metric.unit).toBe('Celsius');
      expect(await prom.query('edgetwin_device_property_last_report_timestamp_seconds{node="edge-rw"}')).toEqual([]);
      const stats = edge.core.sinkStats().find((x) => x.name === 'remote-write');
      expect(stats).toMatchObject({ delivered: 1, dropped: 0 });
    });
  });
});

describe('remote-write answers and requests (a plain HTTP server stands in for the receiver)', () => {
  it('sends the spec headers and a snappy body; credentials come from a file or an environment variable', async () => {
    const rx = await fakeReceiver(204);
    const tmp = tempDir('edgetwin-rw-');
    try {
      const passwordFile = path.join(tmp.dir, 'password');
      writeFileSync(passwordFile, 's3cret\n');
      const basic = new RemoteWriteSink({ url: rx.url, timeoutMs: 5000, auth: { username: 'edge', passwordFile }, headers: { 'X-Scope-OrgID': 'tenant-1', 'Content-Type': 'text/plain' } });
      await basic.deliver([rec('temperature', 1, Date.now())], never);
      const bearer = new RemoteWriteSink({ url: rx.url, timeoutMs: 5000, auth: { bearerTokenEnv: 'RW_TOKEN' }, env: { RW_TOKEN: 'tok' } });
      await bearer.deliver([rec('temperature', 2, Date.now())], never);
      const [first, second] = rx.requests;
      expect(first?.headers).toMatchObject({
        'content-encoding': 'snappy',
        'content-type': 'application/x-protobuf',
        'x-prometheus-remote-write-version': '0.1.0',
        'x-scope-orgid': 'tenant-1',
        authorization: `Basic ${Buffer.from('edge:s3cret').toString('base64')}`,
      });
      expect(snappy.uncompress(new Uint8Array(first!.body)).byteLength).toBeGreaterThan(0);
      expect(second?.headers.authorization).toBe('Bearer tok');
      // Never inline: a missing secret is a coded error at construction, before anything is sent.
      expect(() => new RemoteWriteSink({ url: rx.url, timeoutMs: 5000, auth: { bearerTokenEnv: 'RW_UNSET' }, env: {} })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS' }));
      expect(() => new RemoteWriteSink({ url: rx.url, timeoutMs: 5000, auth: { username: 'u', passwordFile: path.join(tmp.dir, 'nope') } })).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS' }));
    } finally {
      await rx.close();
      tmp.cleanup();
    }
  });

  it('5xx, 429, nobody listening and a timeout are UNAVAILABLE (retried by the outbox); 400 and 401 are REFUSED', async () => {
    const batch = [rec('temperature', 1, Date.now())];
    for (const [status, code] of [
      [500, 'EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE'],
      [503, 'EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE'],
      [429, 'EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE'],
      [400, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED'],
      [401, 'EDGETWIN_ERR_REMOTE_WRITE_REFUSED'],
    ] as const) {
      const rx = await fakeReceiver(status);
      try {
        expect(await codeOf(new RemoteWriteSink({ url: rx.url, timeoutMs: 5000 }).deliver(batch, never)), String(status)).toBe(code);
      } finally {
        await rx.close();
      }
    }
    // A 400 (Prometheus's answer to samples out of order or too old) is retried series by
    // series, oldest sample first; other refusals are not about samples and cost one request.
    const three = [rec('temperature', 1, 1000), rec('temperature', 2, 2000), rec('temperature', 3, 3000)];
    for (const [status, requests] of [[400, 4], [401, 1], [413, 1]] as const) {
      const rx = await fakeReceiver(status);
      try {
        expect(await codeOf(new RemoteWriteSink({ url: rx.url, timeoutMs: 5000 }).deliver(three, never))).toBe('EDGETWIN_ERR_REMOTE_WRITE_REFUSED');
        expect(rx.requests.length, String(status)).toBe(requests);
      } finally {
        await rx.close();
      }
    }
    const closed = `http://127.0.0.1:${await freePort()}/api/v1/write`;
    expect(await codeOf(new RemoteWriteSink({ url: closed, timeoutMs: 5000 }).deliver(batch, never))).toBe('EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE');
    const slow = await fakeReceiver(204, 10_000);
    try {
      const err = await new RemoteWriteSink({ url: slow.url, timeoutMs: 200 }).deliver(batch, never).catch((e: unknown) => e);
      expect(isEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toContain('no answer within 200 ms');
      // The outbox's signal aborts a delivery at once (shutdown).
      const ac = new AbortController();
      const p = new RemoteWriteSink({ url: slow.url, timeoutMs: 60_000 }).deliver(batch, ac.signal);
      ac.abort();
      expect(await codeOf(p)).toBe('EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE');
    } finally {
      await slow.close();
    }
  });
});
