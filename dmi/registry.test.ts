// Registered DMI mappers survive restarts: saved whole and atomically, loaded back, a corrupt
// file refused with a code (dmi/registry.ts).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MapperRegistry, REGISTRY_FILE, type MapperRegistration } from './registry.js';

const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-dmi-reg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const reg = (protocol: string, delivered: Record<string, string> = {}): MapperRegistration => ({
  protocol,
  name: `${protocol}-mapper`,
  version: 'v1.13.0',
  apiVersion: 'v1.0.0',
  address: `/etc/kubeedge/${protocol}.sock`,
  state: 'ok',
  registeredAt: 1,
  delivered,
});

describe('MapperRegistry', () => {
  it('starts empty, then loads back what it saved, leaving no temp file', async () => {
    const r = new MapperRegistry(path.join(dir, 'a'));
    expect(r.load()).toEqual([]);
    await r.save([reg('modbus', { 'device:default/t1': 'x' })]);
    expect(new MapperRegistry(path.join(dir, 'a')).load()).toEqual([reg('modbus', { 'device:default/t1': 'x' })]);
    expect(readdirSync(path.join(dir, 'a'))).toEqual([REGISTRY_FILE]);
  });

  it('saves asked for while one is written fold into one more write of the latest', async () => {
    const r = new MapperRegistry(path.join(dir, 'b'));
    const writes = [r.save([reg('a')]), r.save([reg('b')]), r.save([reg('c')]), r.save([reg('d')])];
    await Promise.all(writes);
    expect(r.load().map((m) => m.protocol)).toEqual(['d']);
  });

  it('a corrupt file is refused with EDGETWIN_ERR_DMI_REGISTRY, never read half', () => {
    for (const [i, text] of ['{', '{"format": 2, "mappers": []}', '{"format": 1, "mappers": [{"protocol": ""}]}'].entries()) {
      const sub = path.join(dir, `c${i}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(path.join(sub, REGISTRY_FILE), text);
      expect(() => new MapperRegistry(sub).load()).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_DMI_REGISTRY' }));
    }
  });
});
