// The disk filling up, simulated with SQLite's max_page_count (the store's `pragmas`): a
// commit that needs more space fails with EDGETWIN_ERR_STORE_WRITE ("the disk is full"), is
// answered with that code and leaves nothing of itself behind, while the node keeps serving
// reads and writes that fit; after space is freed (a restart without the cap) every answered
// change is there and the refused ones can be retried.

import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceTwin, SqliteTwinStore } from '../devicetwin/index.js';
import { EmbeddedBroker } from '../eventbus/index.js';
import { compileModel, parseDeviceManifest, type DeviceInstance, type DeviceModel } from '../schemas/index.js';
import { tempDir, TestClient } from './helpers.js';

const model: DeviceModel = compileModel({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'logbook',
  type: 'object',
  properties: { note: { type: 'string', maxLength: 8000 }, level: { type: 'integer' } },
  additionalProperties: false,
});
const DEVICES = 16;
const ids = Array.from({ length: DEVICES }, (_, i) => `log-${i}`);
const devices: DeviceInstance[] = ids.map((name) =>
  parseDeviceManifest(
    { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name, namespace: 'default' }, spec: { deviceModelRef: { name: 'logbook' }, properties: [{ name: 'note' }, { name: 'level' }] } },
    new Map([['logbook', model]]),
  ),
);

interface Node {
  readonly broker: EmbeddedBroker;
  readonly twin: DeviceTwin;
  stop(): Promise<void>;
}

/** Broker + twin + SQLite store on `file`, with `pragmas` (max_page_count: the size of the "disk"). */
async function startNode(file: string, pragmas: Record<string, number> = {}): Promise<Node> {
  const logger = pino({ level: 'silent' });
  const store = new SqliteTwinStore({ path: file, pragmas });
  const broker = new EmbeddedBroker({ port: 0, logger });
  const twin = new DeviceTwin({ bus: broker, store, nodeName: 'edge-test', logger });
  await twin.start();
  await broker.start();
  await twin.setDevices(devices.map((instance) => ({ instance, model })));
  twin.listen();
  return {
    broker,
    twin,
    stop: async () => {
      await twin.stop();
      await broker.close();
      await store.close();
    },
  };
}

const topic = (name: string, kind: string): string => `$hw/events/device/default/${name}/${kind}`;

async function call(client: TestClient, name: string, kind: 'twin/update' | 'twin/get', body: object, eventId: string): Promise<Record<string, unknown>> {
  const from = client.count;
  await client.publish(topic(name, kind), { event_id: eventId, ...body });
  return (await client.next(topic(name, `${kind}/result`), (j) => j.event_id === eventId, 5000, from)).json;
}

describe('the disk filling up', () => {
  const tmp = tempDir('edgetwin-full-');
  const file = path.join(tmp.dir, 'edgetwin.db');
  afterAll(() => tmp.cleanup());

  it('refuses commits that need space with EDGETWIN_ERR_STORE_WRITE, serves reads, and loses nothing answered', async () => {
    // Size the "disk": what the bound devices take, plus a few pages.
    const setup = await startNode(file);
    await setup.stop();
    const db = new Database(file);
    const used = db.pragma('page_count', { simple: true }) as number;
    db.close();
    const node = await startNode(file, { max_page_count: used + 6 });
    const client = await TestClient.connect(node.broker.url, ids.flatMap((n) => [topic(n, 'twin/update/result'), topic(n, 'twin/get/result')]));
    const note = (i: number, c: string): string => c.repeat(3000) + String(i);
    const applied: string[] = [];
    const refused: string[] = [];
    try {
      for (const [i, name] of ids.entries()) {
        const answer = await call(client, name, 'twin/update', { twin: { note: { actual: { value: note(i, 'a') } } } }, `fill-${i}`);
        if (answer.error_code === undefined) applied.push(name);
        else {
          expect(answer).toMatchObject({ code: 500, error_code: 'EDGETWIN_ERR_STORE_WRITE', reason: expect.stringMatching(/disk is full/) });
          refused.push(name);
        }
      }
      expect(applied.length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);

      // Reads are served: an applied note is there, a refused one left nothing behind.
      const kept = await call(client, applied[0]!, 'twin/get', {}, 'read-applied');
      expect(kept).toMatchObject({ twin: { note: { actual: { value: note(0, 'a') } } } });
      const empty = await call(client, refused[0]!, 'twin/get', {}, 'read-refused');
      expect(empty).toMatchObject({ twin: {}, version: 0 });
      // A change that needs no new pages still commits (the same note, rewritten in place).
      const rewrite = await call(client, applied[0]!, 'twin/update', { twin: { note: { actual: { value: note(0, 'b') } } } }, 'rewrite');
      expect(rewrite.error_code).toBeUndefined();
      expect(node.broker.stats().ingestFailures).toBe(0);
    } finally {
      await client.close();
      await node.stop();
    }

    // Space freed: everything answered is there, nothing refused is, and a retry succeeds.
    const freed = await startNode(file);
    try {
      expect(freed.twin.get(`default/${applied[0]!}`)?.twins.note?.actual?.value).toBe(note(0, 'b'));
      for (const name of applied.slice(1)) expect(freed.twin.get(`default/${name}`)?.twins.note?.actual?.value).toMatch(/^a{3000}\d+$/);
      for (const name of refused) expect(freed.twin.get(`default/${name}`)?.twins.note).toBeUndefined();
      const retry = await freed.twin.update(`default/${refused[0]!}`, { note: { actual: 'retried' } }, { origin: 'edge' });
      expect(retry.twins.note?.actual?.value).toBe('retried');
    } finally {
      await freed.stop();
    }
    console.log(`disk full: ${applied.length} updates committed before the disk filled, ${refused.length} refused with EDGETWIN_ERR_STORE_WRITE, reads served throughout, 0 partial`);
  });
});
