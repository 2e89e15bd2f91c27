// wire/ is where mappers get the KubeEdge wire types and the twin client: it depends on nothing
// a mapper may not import, mappers use it rather than a copy, and its typed helpers work over a
// real broker.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../eventbus/index.js';
import { eventually } from '../test/async.js';
import { publishDevice, TwinClient, type DeviceTwinDelta } from './index.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
}

function imports(file: string): string[] {
  return [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('wire/: the KubeEdge wire types and the twin client, beside the bus', () => {
  it('imports only eventbus/, schemas/ and errors (so mappers may import it)', () => {
    for (const file of sources('wire')) {
      for (const spec of imports(file).filter((s) => s.startsWith('..'))) {
        expect(['../eventbus/index.js', '../schemas/index.js', '../errors.js'], `${file} imports ${spec}`).toContain(spec);
      }
    }
  });

  it('mappers/ never import devicetwin/, and the worker builds no twin topic of its own', () => {
    for (const file of sources('mappers')) {
      expect(imports(file).filter((s) => s.includes('devicetwin')), file).toEqual([]);
    }
    const worker = readFileSync(path.join(ROOT, 'mappers', 'sdk', 'worker.ts'), 'utf8');
    expect(worker).not.toMatch(/deviceTopic\(|'twin\/get'|twin\/get\/result/);
  });

  describe('over a real broker', () => {
    const broker = new EmbeddedBroker({ port: 0 });
    beforeAll(() => broker.start());
    afterAll(() => broker.close());

    it('TwinClient.deltas delivers twin/update/delta messages published with publishDevice, and ignores junk', async () => {
      const client = new TwinClient(broker);
      const got: DeviceTwinDelta[] = [];
      const sub = await client.deltas('default/dev-1', (m) => got.push(m));
      const id = { namespace: 'default', name: 'dev-1' };
      await broker.publish('$hw/events/device/default/dev-1/twin/update/delta', 'not json', { qos: 1 });
      await broker.publish('$hw/events/device/default/dev-1/twin/update/delta', '{"delta":"no"}', { qos: 1 });
      await publishDevice(broker, id, 'twin/update/delta', { event_id: 'e1', timestamp: 1, twin: { setpoint: { expected: { value: '21' } } }, delta: { setpoint: '21' } }, { qos: 1 });
      await eventually(async () => (got.length > 0 ? true : undefined));
      await sub.unsubscribe();
      expect(got.map((m) => m.delta)).toEqual([{ setpoint: '21' }]);
    });
  });
});
