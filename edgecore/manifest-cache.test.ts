import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS_DIR, loadModels } from '../schemas/index.js';
import { tempDir, thermostatManifest, writeManifests } from '../test/helpers.js';
import { loadManifests } from './manifests.js';
import { manifestFingerprint, readManifestCache } from './manifest-cache.js';

describe('the manifest cache', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const devices = path.join(tmp.dir, 'devices');
  const file = path.join(tmp.dir, 'data', 'manifests.cache.json');
  const { models } = loadModels([BUNDLED_MODELS_DIR]);
  const cache = { file, version: 'test' };
  const load = (): ReturnType<typeof loadManifests>['result'] => loadManifests([devices], [BUNDLED_MODELS_DIR], models, undefined, cache).result;

  it('serves a restart with unchanged manifests from the cache, with the same devices and errors', async () => {
    writeManifests(devices, { 'a.yaml': thermostatManifest('a'), 'bad.yaml': thermostatManifest('b').replace('name: thermostat', 'name: nope') });
    const first = await load();
    expect(first.devices.map((d) => d.id)).toEqual(['default/a']);
    const key = manifestFingerprint([devices], models, 'test');
    expect(readManifestCache(file, key)?.devices).toEqual(first.devices);
    const second = await load();
    expect(second.devices).toEqual(first.devices);
    expect(second.errors.map((e) => [e.code, e.message])).toEqual(first.errors.map((e) => [e.code, e.message]));
  });

  it('misses when a manifest changes, is added or removed, or the models or version differ', () => {
    const before = manifestFingerprint([devices], models, 'test');
    writeFileSync(path.join(devices, 'a.yaml'), thermostatManifest('a2'));
    utimesSync(path.join(devices, 'a.yaml'), new Date(), new Date(Date.now() + 5000));
    const edited = manifestFingerprint([devices], models, 'test');
    expect(edited).not.toBe(before);
    writeFileSync(path.join(devices, 'c.yaml'), thermostatManifest('c'));
    const added = manifestFingerprint([devices], models, 'test');
    expect(added).not.toBe(edited);
    expect(manifestFingerprint([devices], models, 'other-version')).not.toBe(added);
    const fewer = new Map([...models].filter(([n]) => n !== 'power-meter'));
    expect(manifestFingerprint([devices], fewer, 'test')).not.toBe(added);
  });

  it('re-parses after an edit, and treats a corrupt cache as a miss', async () => {
    expect((await load()).devices.map((d) => d.id).sort()).toEqual(['default/a2', 'default/c']);
    writeFileSync(file, '{not json');
    expect((await load()).devices.map((d) => d.id).sort()).toEqual(['default/a2', 'default/c']);
  });
});
