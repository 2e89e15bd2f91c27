// Mapper plugin packages written to a temp dir, as a third party would publish them: plain ESM
// JavaScript whose default export is a ProtocolPlugin (mappers/sdk/types.ts), nothing imported
// from edgetwin's sources. `counter` is a tiny driver whose "hardware" is a JSON file its
// simulator writes (so a reading proves the simulator served it, in this process or another);
// the broken ones fail each way a plugin can.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const COUNTER = `
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
const read = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
const factory = {
  protocol: 'counter',
  protocolConfigSchema: {
    type: 'object', additionalProperties: false, required: ['file'],
    properties: { base: { type: 'number' }, file: { type: 'string', minLength: 1 } },
  },
  visitorConfigSchema: { type: 'object', additionalProperties: false, required: ['channel'], properties: { channel: { type: 'string', minLength: 1 } } },
  connect(ctx, device) {
    const { base = 0, file } = device.protocol;
    return {
      async read(props) {
        const hw = read(file);
        if (!hw) throw Object.assign(new Error('no counter hardware at ' + file), { code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
        return props.map((p) => ({ ok: true, value: base + (hw[p.visitor.channel] ?? 0) }));
      },
      async write(p, value) {
        const hw = read(file);
        if (!hw) throw Object.assign(new Error('no counter hardware at ' + file), { code: 'EDGETWIN_ERR_MAPPER_CONNECTION' });
        hw[p.visitor.channel] = value - base;
        writeFileSync(file, JSON.stringify(hw));
      },
      state: () => (existsSync(file) ? 'online' : 'offline'),
      async close() {},
    };
  },
};
// The simulated hardware: a JSON file per device (its protocol config's \`file\`), which a
// driver in this process or another reads.
const simulator = {
  async start(devices) {
    for (const d of devices) writeFileSync(d.instance.protocol.configData.file, JSON.stringify({ temp: 21.5, set: 20 }));
    return {
      description: 'counter: ' + devices.length + ' simulated counters',
      async close() { for (const d of devices) rmSync(d.instance.protocol.configData.file, { force: true }); },
    };
  },
};
export default { factory, simulator, description: 'a counter for tests' };
`;

/** Writes package `name` (package.json + index.js) under `dir/node_modules` when `installed`, else under `dir`; returns its folder. */
export function writePlugin(dir: string, name: string, source: string, installed = false): string {
  const pkg = path.join(dir, ...(installed ? ['node_modules'] : []), name);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: { '.': { import: './index.js' } } }));
  writeFileSync(path.join(pkg, 'index.js'), source);
  return pkg;
}

export const PLUGIN_SOURCES = {
  counter: COUNTER,
  throws: `throw new Error('this plugin is broken on import');\n`,
  wrongExport: `export default { hello: 'world' };\n`,
  badSchema: `export default { factory: { protocol: 'badschema', protocolConfigSchema: { type: 'object' }, visitorConfigSchema: { type: 'no-such-type' }, connect() { throw new Error('never'); } } };\n`,
} as const;

/** A thermostat-model device of the `counter` protocol: temperature and setpoint mapped. */
export function counterDevice(file: string, name = 'counter-1', base = 0): string {
  return `apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: ${name}
  namespace: default
spec:
  deviceModelRef:
    name: thermostat
  nodeName: edge-test
  protocol:
    protocolName: counter
    configData:
      base: ${base}
      file: ${JSON.stringify(file)}
  properties:
    - name: temperature
      collectCycle: 100
      reportCycle: 100
      visitors:
        protocolName: counter
        configData:
          channel: temp
    - name: setpoint
      collectCycle: 100
      reportCycle: 100
      visitors:
        protocolName: counter
        configData:
          channel: set
`;
}
