// Strings round-trip exactly or are refused: over MQTT into a real EdgeCore, through its SQLite
// store and a restart, and back out on twin/get. A lone UTF-16 surrogate can only arrive as a
// JSON escape (valid UTF-8 cannot encode one); no store keeps it, so it is refused whole.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEdge, tempDir, TestClient, type TestEdge } from './helpers.js';

const MODEL = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'notebook',
  type: 'object',
  properties: { note: { type: 'string' }, level: { type: 'integer' } },
  additionalProperties: false,
};
const MANIFEST = `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: { name: nb, namespace: default }
spec:
  deviceModelRef: { name: notebook }
  protocol: { protocolName: external }
  properties: [{ name: note }, { name: level }]
`;
const DEV = '$hw/events/device/default/nb';
const ANON = '$hw/events/device//twin/update/result';

/** Strings that are well-formed but easy to mangle: each must come back byte for byte. */
const KEEP: Record<string, string> = {
  pair: 'x\ud83d\ude00y', // as escapes in the JSON text below: a surrogate pair is one code point
  emoji: 'grüße 🙂 日本',
  nul: 'a\u0000b',
  separators: 'line\u2028para\u2029end',
  noncharacter: 'edge\uffff\ufffe',
  replacement: 'already \ufffd here',
  combining: 'e\u0301',
  bom: '\ufeffbom',
};

/** JSON text with every non-ASCII code unit escaped (`\\uXXXX`), as some encoders write it. */
function escaped(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

describe('strings round-trip exactly or are refused', () => {
  const tmp = tempDir('edgetwin-strings-');
  const modelsDir = path.join(tmp.dir, 'models');
  mkdirSync(modelsDir, { recursive: true });
  writeFileSync(path.join(modelsDir, 'notebook.json'), JSON.stringify(MODEL));
  const config = { models: [modelsDir], bundledModels: false };
  let edge: TestEdge | undefined;
  afterAll(async () => {
    await edge?.stop();
    tmp.cleanup();
  });

  async function get(client: TestClient, eventId: string): Promise<Record<string, unknown>> {
    const from = client.count;
    await client.publish(`${DEV}/twin/get`, { event_id: eventId });
    return (await client.next(`${DEV}/twin/get/result`, (j) => j.event_id === eventId, 10_000, from)).json;
  }

  it('refuses a lone surrogate escape with EDGETWIN_ERR_PAYLOAD_ENCODING and keeps every well-formed string through a restart', { timeout: 120_000 }, async () => {
    edge = await startEdge({ 'nb.yaml': MANIFEST }, config, tmp.dir);
    let client = await TestClient.connect(edge.url, [`${DEV}/twin/#`, ANON]);
    try {
      for (const [i, lone] of ['x\\ud800y', '\\udfff', 'a\\ud800\\ud800b', '\\ude00\\ud83d'].entries()) {
        const from = client.count;
        await client.publish(`${DEV}/twin/update`, `{"event_id":"lone-${i}","twin":{"note":{"actual":{"value":"${lone}"}}}}`);
        // Undecodable, so answered as KubeEdge answers what it cannot decode: anonymously, with
        // event_id "" (docs/mqtt-api.md); `from` pins it to this publish.
        const answer = (await client.next(ANON, (j) => j.error_code === 'EDGETWIN_ERR_PAYLOAD_ENCODING', 10_000, from)).json;
        expect(answer).toMatchObject({ event_id: '', code: 400, error_code: 'EDGETWIN_ERR_PAYLOAD_ENCODING', reason: expect.stringMatching(/surrogate/) });
      }
      // A lone surrogate in a key is refused the same way.
      const from = client.count;
      await client.publish(`${DEV}/twin/update`, '{"event_id":"lone-key","twin":{"no\\ud800te":{"actual":{"value":"1"}}}}');
      expect((await client.next(ANON, (j) => j.error_code === 'EDGETWIN_ERR_PAYLOAD_ENCODING', 10_000, from)).json).toMatchObject({ event_id: '', error_code: 'EDGETWIN_ERR_PAYLOAD_ENCODING' });
      expect(await get(client, 'after-lone')).toMatchObject({ version: 0, twin: {} });

      // Well-formed strings: sent once as raw UTF-8 and once with every code unit escaped.
      for (const [name, value] of Object.entries(KEEP)) {
        for (const [how, text] of [['raw', JSON.stringify({ event_id: `${name}-raw`, twin: { note: { actual: { value } } } })], ['escaped', escaped({ event_id: `${name}-esc`, twin: { note: { actual: { value } } } })]] as const) {
          const eventId = how === 'raw' ? `${name}-raw` : `${name}-esc`;
          const before = client.count;
          await client.publish(`${DEV}/twin/update`, text);
          const result = (await client.next(`${DEV}/twin/update/result`, (j) => j.event_id === eventId, 10_000, before)).json;
          expect(result.error_code, `${name} (${how})`).toBeUndefined();
          const twin = (await get(client, `${eventId}-get`)).twin as { note: { actual: { value: string } } };
          expect(twin.note.actual.value, `${name} (${how})`).toBe(value);
        }
      }
      await client.publish(`${DEV}/twin/update`, { event_id: 'last', twin: { note: { actual: { value: KEEP.pair } } } });
      await client.next(`${DEV}/twin/update/result`, (j) => j.event_id === 'last');
    } finally {
      await client.close();
      await edge.stop();
      edge = undefined;
    }

    // After a restart on the same data directory the last value is there exactly.
    edge = await startEdge({ 'nb.yaml': MANIFEST }, config, tmp.dir);
    client = await TestClient.connect(edge.url, [`${DEV}/twin/#`]);
    try {
      const got = await get(client, 'after-restart');
      const twin = got.twin as { note: { actual: { value: string } } };
      expect(twin.note.actual.value).toBe(KEEP.pair);
      expect(Buffer.from(twin.note.actual.value)).toEqual(Buffer.from('x😀y'));
      expect(edge.core.twin.get('default/nb')?.twins.note?.actual?.value).toBe(KEEP.pair);
    } finally {
      await client.close();
    }
  });

  it('keeps every well-formed string through the store exactly', { timeout: 120_000 }, async () => {
    // The same strings straight through the API and a restart: the store itself is faithful.
    edge ??= await startEdge({ 'nb.yaml': MANIFEST }, config, tmp.dir);
    for (const value of Object.values(KEEP)) {
      await edge.core.twin.update('default/nb', { note: { actual: value } }, { origin: 'edge' });
      await edge.stop();
      edge = await startEdge({ 'nb.yaml': MANIFEST }, config, tmp.dir);
      expect(edge.core.twin.get('default/nb')?.twins.note?.actual?.value).toBe(value);
    }
  });
});
