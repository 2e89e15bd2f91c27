import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { isEdgetwinError, type EdgetwinError } from '../errors.js';
import { BROKER_DEFAULTS } from '../eventbus/broker-options.js';
import { loadConfigFile, resolveConfig, type EdgetwinConfig, type RawConfig } from './config.js';

const DEFAULTS: EdgetwinConfig = {
  nodeName: 'edge-node',
  dataDir: './data',
  models: [],
  bundledModels: true,
  strict: false,
  devices: [],
  watch: true,
  mqtt: {
    mode: 'embedded',
    answerQos: 0,
    external: { url: 'mqtt://127.0.0.1:1883', protocolVersion: 4, maxInflight: 1000, reconnectBaseMs: 1000, reconnectMaxMs: 30000 },
    host: '127.0.0.1',
    port: 1883,
    maxPayloadBytes: 262144,
    maxPacketBytes: 1048576,
    auth: { anonymousRole: 'admin' },
    limits: {
      maxConnections: 1000,
      maxInflightPerClient: 1000,
      publishRatePerClient: 2000,
      publishBurstPerClient: 4000,
      maxTopicDepth: 32,
      maxTwinsPerMessage: 256,
      maxPropertiesPerDevice: 256,
      maxDevices: 10000,
      maxConnectBytes: 65536,
      connectTimeoutMs: 5000,
      maxOutgoingBytesPerClient: 4194304,
      outgoingStallMs: 30000,
      maxSubscriptionsPerClient: 25000,
      maxRetainedMessages: 10000,
      maxRetainedBytes: 16777216,
    },
  },
  store: { synchronous: 'normal', pragmas: {} },
  log: { level: 'info', format: 'auto' },
  mappers: { enabled: ['modbus'], plugins: [], timeoutMs: 2000, offlineAfter: 3, resyncMs: 60000, bluetoothAdapter: 'hci' },
  simulate: [],
  http: { enabled: true, host: '127.0.0.1', port: 9464, console: false },
  metrics: {},
  history: {
    enabled: true,
    retention: { maxAge: '7d', maxBytes: '256MiB' },
    downsample: { minutesAfter: '24h', hoursAfter: '7d' },
    maxPoints: 100000,
    devices: {},
    models: {},
  },
  telemetry: {
    prometheus: { enabled: true, maxSeries: 10000, reportToCloud: true, devices: {}, models: {} },
    remoteWrite: { interval: '30s', timeout: '10s', headers: {}, labels: {}, ownMetrics: true },
    sinks: { enabled: true, destinations: {} },
    outbox: { maxRecords: 100000, maxBytes: '16MiB', batchSize: 500, deliveryTimeout: '10s' },
  },
  dmi: { callTimeoutMs: 10000, registerGraceMs: 10000 },
  cloud: {},
};

function thrown(fn: () => unknown): EdgetwinError {
  try {
    fn();
  } catch (err) {
    if (isEdgetwinError(err)) return err;
    throw err;
  }
  throw new Error('expected a throw');
}

describe('resolveConfig', () => {
  it('fills every default', () => {
    expect(resolveConfig()).toEqual(DEFAULTS);
    expect(resolveConfig({ mqtt: {} })).toEqual(DEFAULTS);
  });

  it("matches the embedded broker's own defaults, so a broker built without a config is bounded alike", () => {
    const { limits, maxPacketBytes } = resolveConfig({}).mqtt;
    const { maxPayloadBytes, ...broker } = BROKER_DEFAULTS;
    // The broker's payload default is its frame allowance (EdgeCore passes max(maxPacketBytes, maxPayloadBytes)).
    expect(maxPayloadBytes).toBe(maxPacketBytes);
    expect({ ...limits, maxPacketBytes }).toMatchObject(broker);
  });

  it('types the resolved config with every field present (kubeconfig stays optional)', () => {
    expectTypeOf<EdgetwinConfig['mqtt']['port']>().toEqualTypeOf<number>();
    expectTypeOf<EdgetwinConfig['log']['level']>().toEqualTypeOf<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>();
    expectTypeOf<EdgetwinConfig['devices']>().toEqualTypeOf<string[]>();
    expectTypeOf<EdgetwinConfig['cloud']['kubeconfig']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<NonNullable<RawConfig['mqtt']>['port']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<EdgetwinConfig['mqtt']['auth']['anonymous']>().toEqualTypeOf<'off' | 'loopback' | 'any' | undefined>();
    expectTypeOf<EdgetwinConfig['mqtt']['limits']['maxDevices']>().toEqualTypeOf<number>();
  });

  it('applies overrides over the file, deep per section, arrays replaced', () => {
    const raw: RawConfig = { nodeName: 'edge-1', devices: ['/a', '/b'], mqtt: { host: '0.0.0.0', port: 1884 } };
    const config = resolveConfig(raw, { mqtt: { port: 0 }, devices: ['/c'], dataDir: '/tmp/x' });
    expect(config).toEqual({ ...DEFAULTS, nodeName: 'edge-1', dataDir: '/tmp/x', devices: ['/c'], mqtt: { ...DEFAULTS.mqtt, host: '0.0.0.0', port: 0 } });
  });

  it('modifies neither argument', () => {
    const raw: RawConfig = { mqtt: { port: 1 } };
    const overrides: RawConfig = { log: { level: 'debug' } };
    resolveConfig(raw, overrides);
    expect({ raw, overrides }).toEqual({ raw: { mqtt: { port: 1 } }, overrides: { log: { level: 'debug' } } });
  });

  it('rejects a bad override, e.g. a port out of range', () => {
    const err = thrown(() => resolveConfig({}, { mqtt: { port: 70000 } }));
    expect(err.code).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    expect(err.details).toEqual([{ path: '/mqtt/port', message: 'must be <= 65535' }]);
  });

  it('checks mqtt.mode, mqtt.answerQos and the external broker URL', () => {
    expect(resolveConfig({ mqtt: { mode: 'external', answerQos: 1, external: { url: 'tcp://127.0.0.1:1883', clientId: 'twin-1' } } }).mqtt).toMatchObject({
      mode: 'external',
      answerQos: 1,
      external: { url: 'tcp://127.0.0.1:1883', clientId: 'twin-1', protocolVersion: 4 },
    });
    const err = thrown(() => resolveConfig({ mqtt: { mode: 'remote', answerQos: 2, external: { url: 'http://broker/' } } } as unknown as RawConfig));
    expect(err.details.map((d) => d.path).sort()).toEqual(['/mqtt/answerQos', '/mqtt/external/url', '/mqtt/mode']);
  });

  it('lists every error with its JSON pointer', () => {
    const bad = {
      nodeName: 'Edge 1',
      extra: true,
      mqtt: { port: -1, maxPayloadBytes: 'big', tls: {} },
      store: { synchronous: 'off' },
      log: { level: 'verbose' },
      metrics: { enabled: 'yes' },
      models: ['', 3],
      cloud: { kubeconfig: 5 },
    } as unknown as RawConfig;
    const err = thrown(() => resolveConfig(bad));
    expect(err.code).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    expect(err.details.map((d) => d.path).sort()).toEqual(
      [
        '/nodeName',
        '/extra',
        '/mqtt/port',
        '/mqtt/maxPayloadBytes',
        '/mqtt/tls/cert',
        '/mqtt/tls/key',
        '/store/synchronous',
        '/log/level',
        '/metrics/enabled',
        '/models/0',
        '/models/1',
        '/cloud/kubeconfig',
      ].sort(),
    );
    expect(err.message).toContain('12 problems');
    expect(err.details.find((d) => d.path === '/log/level')?.message).toMatch(/must be one of "fatal", "error"/);
    expect(err.details.find((d) => d.path === '/extra')?.message).toBe('is not an allowed key');
  });

  it('suggests the key meant for a typo, at any depth', () => {
    const err = thrown(() => resolveConfig({ mqtt: { prot: 1884, limits: { maxConnection: 5 } }, nodename: 'x' } as never));
    expect(Object.fromEntries(err.details.map((d) => [d.path, d.message]))).toEqual({
      '/mqtt/prot': 'is not an allowed key; did you mean "port"?',
      '/mqtt/limits/maxConnection': 'is not an allowed key; did you mean "maxConnections"?',
      '/nodename': 'is not an allowed key; did you mean "nodeName"?',
    });
  });
});

describe('http and history settings', () => {
  it('metrics.* are aliases of http.*: moved there, an http.* key of the same layer wins, a later layer wins', () => {
    expect(resolveConfig({ metrics: { port: 0, enabled: false } })).toMatchObject({ http: { enabled: false, host: '127.0.0.1', port: 0 }, metrics: {} });
    expect(resolveConfig({ http: { port: 8080 }, metrics: { port: 9000, host: '0.0.0.0' } }).http).toEqual({ enabled: true, host: '0.0.0.0', port: 8080, console: false });
    expect(resolveConfig({ http: { port: 8080 } }, { metrics: { port: 0 } }).http.port).toBe(0);
    expect(resolveConfig({ metrics: { port: 9000 } }, { http: { port: 0 } }).http.port).toBe(0);
  });

  it('a bad alias is reported where it was written', () => {
    const err = thrown(() => resolveConfig({ metrics: { port: 70000 } }));
    expect(err.details).toEqual([{ path: '/metrics/port', message: 'must be <= 65535' }]);
  });

  it('history takes durations and sizes with units, or plain ms and bytes, per device and model too', () => {
    const config = resolveConfig({
      history: { retention: { maxAge: '30d', maxBytes: 1_000_000 }, devices: { 'plant/meter-1': { maxAge: '90d', maxBytes: '1GiB' } }, models: { thermostat: { enabled: false } } },
    });
    expect(config.history).toMatchObject({ retention: { maxAge: '30d', maxBytes: 1_000_000 }, devices: { 'plant/meter-1': { maxAge: '90d' } } });
    const err = thrown(() => resolveConfig({ history: { retention: { maxAge: '7 days' }, devices: { 'a/b': { keep: 1 } } } } as unknown as RawConfig));
    expect(err.details.map((d) => d.path)).toEqual(expect.arrayContaining(['/history/retention/maxAge', '/history/devices/a~1b/keep']));
    expect(err.details.find((d) => d.path === '/history/retention/maxAge')?.message).toMatch(/must match pattern/);
    expect(err.details).toHaveLength(2);
    const names = thrown(() => resolveConfig({ history: { devices: { thermo: {} }, models: { Thermostat: {} } } }));
    expect(names.details.map((d) => [d.path, d.message])).toEqual([
      ['/history/devices/thermo', expect.stringContaining('a device id: <namespace>/<name>')],
      ['/history/models/Thermostat', expect.stringContaining('DNS-1123 subdomain')],
    ]);
  });

  it('telemetry.prometheus and telemetry.remoteWrite: opt-ins, an http(s) url, label names, credentials only from a file or the environment', () => {
    const config = resolveConfig({
      telemetry: {
        prometheus: { maxSeries: 50, devices: { 'plant/meter-1': { enabled: true } }, models: { thermostat: { enabled: false } } },
        remoteWrite: { url: 'https://prom.example:9090/api/v1/write', interval: '15s', labels: { site: 'plant-7' }, auth: { username: 'edge', passwordFile: '/run/secrets/rw' } },
      },
    });
    expect(config.telemetry.prometheus).toMatchObject({ enabled: true, maxSeries: 50, reportToCloud: true });
    expect(config.telemetry.remoteWrite).toMatchObject({ url: 'https://prom.example:9090/api/v1/write', interval: '15s', timeout: '10s', ownMetrics: true });
    expect(resolveConfig({ telemetry: { remoteWrite: { url: 'http://p/api/v1/write', auth: { bearerTokenEnv: 'RW_TOKEN' } } } }).telemetry.remoteWrite.auth).toEqual({ bearerTokenEnv: 'RW_TOKEN' });
    for (const bad of [
      { remoteWrite: { url: 'ftp://x/api' } },
      { remoteWrite: { url: 'http://user:pass@p/api/v1/write' } },
      { remoteWrite: { url: 'http://p', headers: { authorization: 'Bearer inline' } } },
      { remoteWrite: { url: 'http://p', auth: { username: 'u', password: 'inline' } } },
      { remoteWrite: { url: 'http://p', auth: { bearerToken: 'inline' } } },
      { remoteWrite: { url: 'http://p', auth: { username: 'u', passwordFile: '/a', passwordEnv: 'B' } } },
      { remoteWrite: { labels: { __name__: 'x' } } },
      { prometheus: { maxSeries: 0 } },
      { prometheus: { devices: { thermo: { enabled: true } } } },
    ]) {
      expect(thrown(() => resolveConfig({ telemetry: bad } as unknown as RawConfig)).code, JSON.stringify(bad)).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    }
  });
});

describe('loadConfigFile', () => {
  const root = mkdtempSync(join(tmpdir(), 'edgetwin-config-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(root, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads YAML and resolves relative paths against the file folder', () => {
    const path = file(
      'edgetwin.yaml',
      'nodeName: edge-1\ndataDir: ./data\nmodels: [models, /abs/models]\ndevices:\n  - ./devices\ncloud:\n  kubeconfig: ../kube/config\n',
    );
    expect(loadConfigFile(path)).toEqual({
      nodeName: 'edge-1',
      dataDir: join(root, 'data'),
      models: [join(root, 'models'), '/abs/models'],
      devices: [join(root, 'devices')],
      cloud: { kubeconfig: join(root, '..', 'kube', 'config') },
    });
  });

  it('resolves dmi.socket against the file folder too', () => {
    expect(loadConfigFile(file('dmi.yaml', 'dmi:\n  socket: run/dmi.sock\n'))).toEqual({ dmi: { socket: join(root, 'run', 'dmi.sock') } });
    expect(loadConfigFile(file('dmi-abs.yaml', 'dmi:\n  socket: /etc/kubeedge/dmi.sock\n'))).toEqual({ dmi: { socket: '/etc/kubeedge/dmi.sock' } });
  });

  it('adds no defaults (resolveConfig does)', () => {
    expect(loadConfigFile(file('min.yaml', 'mqtt:\n  port: 1885\n'))).toEqual({ mqtt: { port: 1885 } });
  });

  it('reads JSON', () => {
    expect(loadConfigFile(file('c.json', '{"log": {"level": "debug"}}'))).toEqual({ log: { level: 'debug' } });
  });

  it('treats an empty file as an empty config', () => {
    expect(loadConfigFile(file('empty.yaml', '# all defaults\n'))).toEqual({});
  });

  it('rejects a file that fails the schema, naming the file and every problem', () => {
    const path = file('bad.yaml', 'mqtt:\n  port: "1883"\nlog: {level: loud}\nnodes: 2\n');
    const err = thrown(() => loadConfigFile(path));
    expect(err.code).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    expect(err.message).toContain(path);
    expect(err.details.map((d) => d.path)).toEqual(['/nodes', '/mqtt/port', '/log/level']);
  });

  it('rejects malformed YAML and JSON as invalid config', () => {
    expect(thrown(() => loadConfigFile(file('syntax.yaml', 'mqtt: [\n'))).code).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    expect(thrown(() => loadConfigFile(file('dup.yaml', 'nodeName: a\nnodeName: b\n'))).code).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    expect(thrown(() => loadConfigFile(file('syntax.json', '{"mqtt": '))).code).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    expect(thrown(() => loadConfigFile(file('list.yaml', '- a\n- b\n'))).details).toEqual([{ path: '', message: 'must be object' }]);
  });

  it('reports a missing file as EDGETWIN_ERR_FILE_READ', () => {
    const err = thrown(() => loadConfigFile(join(root, 'nope.yaml')));
    expect(err.code).toBe('EDGETWIN_ERR_FILE_READ');
    expect(err.message).toContain('nope.yaml');
  });
});
