// The CRDs: the vendored copies are KubeEdge's own (byte for byte), `edgetwin crds` prints
// them, `model to-crd` / `from-crd` round-trip through files, and every object edgetwin writes —
// in both status layouts, with or without a status subresource — validates against the CRDs'
// openAPIV3Schema (ajv, via test/k8s/crd.ts).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { modelFromCrd, modelToCrd, crdsText } from '../cli/cloud.js';
import { main } from '../cli/main.js';
import { BUNDLED_MODELS_DIR } from '../schemas/index.js';
import { tempDir } from './helpers.js';
import { FakeApiServer, SHARED_CRDS, VENDORED_CRDS, loadCrd, loadCrds } from './k8s/index.js';
import { clusterStatus, device, deviceModel, startSync, twinOf, waitFor, type SyncHarness } from './k8s/fixtures.js';

const tmp = tempDir('edgetwin-crds-');
let server: FakeApiServer | undefined;
let h: SyncHarness | undefined;

afterEach(async () => {
  await h?.destroy();
  h = undefined;
  await server?.stop();
  server = undefined;
});

describe('CRDs', () => {
  it.skipIf(!existsSync(SHARED_CRDS))('the vendored CRDs are byte-identical to the reference copies', () => {
    for (const f of ['devices_v1beta1_device.yaml', 'devices_v1beta1_devicemodel.yaml', 'devices_v1beta1_devicestatus.yaml', 'devices_v1beta1_device.v1.22.2-pre-split.yaml']) {
      expect(readFileSync(path.join(VENDORED_CRDS, f), 'utf8')).toBe(readFileSync(path.join(SHARED_CRDS, f), 'utf8'));
    }
  });

  it('`edgetwin crds` prints DeviceModel, Device and DeviceStatus (or the ≤ 1.22 pair with --legacy)', async () => {
    const kinds = (text: string) => parseAllDocuments(text).map((d) => (d.toJS() as { spec: { names: { kind: string } } }).spec.names.kind);
    expect(kinds(await crdsText())).toEqual(['DeviceModel', 'Device', 'DeviceStatus']);
    expect(kinds(await crdsText(true))).toEqual(['DeviceModel', 'Device']);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    try {
      expect(await main(['crds'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toBe(await crdsText());
  });

  it('`run --kubeconfig` with an unusable kubeconfig exits 1 with EDGETWIN_ERR_CLOUD_KUBECONFIG', async () => {
    const err: string[] = [];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    try {
      const code = await main(['run', '--kubeconfig', path.join(tmp.dir, 'missing.conf'), '--mqtt-port', '0', '--data-dir', path.join(tmp.dir, 'run-data'), '--log-level', 'silent']);
      expect(code).toBe(1);
    } finally {
      spy.mockRestore();
      out.mockRestore();
    }
    expect(err.join('')).toMatch(/^error EDGETWIN_ERR_CLOUD_KUBECONFIG: kubeconfig .*missing\.conf/);
  });

  it('`model to-crd` writes DeviceModels the CRD accepts, and `model from-crd` reads them back whole', () => {
    const crd = loadCrd(path.join(VENDORED_CRDS, 'devices_v1beta1_devicemodel.yaml'));
    for (const f of ['thermostat.json', 'power-meter.json', 'ble-environmental-sensor.json']) {
      const yamlText = modelToCrd(path.join(BUNDLED_MODELS_DIR, f), { namespace: 'default', protocol: 'modbus' });
      const obj = parse(yamlText) as unknown;
      expect(crd.validate(obj)).toEqual([]);
      const file = path.join(tmp.dir, `${f}.yaml`);
      writeFileSync(file, yamlText);
      // The --protocol given to to-crd comes back as the model's `protocol` keyword (spec.protocol is kept).
      expect(JSON.parse(modelFromCrd(file))).toEqual({ ...(JSON.parse(readFileSync(path.join(BUNDLED_MODELS_DIR, f), 'utf8')) as object), protocol: 'modbus' });
    }
    // KubeEdge's own example converts with nothing lost: spec.protocol is kept in the model.
    const warnings: string[] = [];
    const example = JSON.parse(modelFromCrd(path.resolve(import.meta.dirname, '..', 'examples', 'kubeedge', 'temperature-model.yaml'), (l) => warnings.push(l))) as Record<string, unknown>;
    expect(warnings).toEqual([]);
    expect(example).toMatchObject({ title: 'temperature-model', protocol: 'modbus' });
  });
});

describe('every object written validates against the CRDs', () => {
  it.each([
    ['devicestatus', false],
    ['device', false],
    ['device', true],
    ['devicestatus', true],
  ] as const)('layout %s, status subresource %s', async (layout, subresource) => {
    const target = layout === 'devicestatus' ? 'devicestatuses' : 'devices';
    const crds = loadCrds(layout).map((c) => (subresource && c.plural === target ? { ...c, statusSubresource: true } : c));
    server = await FakeApiServer.start({ crds });
    server.apply('devicemodels', deviceModel('thermo'));
    server.apply('devices', device('a', { desired: { setpoint: '21' } }));
    h = await startSync(server, { statusLayout: layout, statusSubresource: subresource });
    await waitFor(() => h!.twin.get('default/a'), 'bound');
    await h.twin.update('default/a', { temperature: { actual: '20.5' }, setpoint: { actual: '21' } }, { origin: 'edge' });
    // Edge desired → spec too, so a Device write is among them.
    await h.twin.update('default/a', { power: { expected: 'true' } }, { origin: 'edge' });
    await waitFor(() => {
      const s = clusterStatus(server!, 'a', layout);
      return twinOf(s, 'temperature')?.reported?.value === '20.5' && twinOf(s, 'power')?.observedDesired?.value === 'true';
    }, 'status written');
    await waitFor(() => (server!.store.get('devices', 'default', 'a').spec as { properties: Array<{ desired?: { value: string } }> }).properties.some((p) => p.desired?.value === 'true'), 'desired written');
    const writes = server.requests.filter((r) => ['create', 'patch', 'update'].includes(r.verb));
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((r) => r.status >= 400 && r.status !== 409)).toEqual([]);
    for (const c of crds) for (const o of server.store.list(c.plural)) expect(c.validate(o)).toEqual([]);
    if (subresource) expect(server.requests.some((r) => r.verb === 'patch' && r.subresource === 'status' && r.status === 200)).toBe(true);
  });
});
