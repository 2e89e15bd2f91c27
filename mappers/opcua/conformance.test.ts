// The OPC UA mapper passes the mapper conformance suite against node-opcua's own server (started
// here on a free loopback port with the test device's address space), through a TCP proxy that
// goes silent or drops connections on the suite's command.
import { vi } from 'vitest';
import { mapperConformance } from 'edgetwin/testing';
import { createOpcuaMapper } from './index.js';
import { startOpcuaRig } from './harness.test-support.js';

// node-opcua's server loads its standard nodeset on start (3.5-4 s on an idle machine): give the
// suite's set-up room on a busy one.
vi.setConfig({ hookTimeout: 120_000, testTimeout: 60_000 });

mapperConformance('opcua (node-opcua server over TCP)', async () => {
  const rig = await startOpcuaRig({ proxy: true });
  const { model, server, deviceId } = rig;
  const wire = (name: string): string => {
    const checked = model.properties.get(name)!.check(server.get(deviceId, name));
    if (!checked.ok) throw new Error(checked.message);
    return checked.wire;
  };
  return {
    factory: createOpcuaMapper({ pkiDir: `${rig.pkiDir}/client`, backoff: { baseMs: 20, maxMs: 100, jitter: 0.2 } }),
    instance: rig.device,
    model,
    readable: ['temperature', 'counter', 'setpoint', 'level', 'mode', 'power', 'ratio', 'big'],
    writable: { property: 'setpoint', values: ['22.5', '6.75'] },
    setDeviceValue: (name, w) => {
      const parsed = model.properties.get(name)!.parse(w);
      if (!parsed.ok) throw new Error(parsed.message);
      server.set(deviceId, name, parsed.value);
    },
    deviceValue: wire,
    silence: () => rig.proxy!.silence(true),
    heal: () => rig.proxy!.silence(false),
    drop: () => rig.proxy!.drop(),
    close: () => rig.close(),
  };
});
