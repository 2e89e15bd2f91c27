// No usable adapter must be a coded error, never a crash: noble's default entry throws at import
// here (no Bluetooth in the kernel), adapters power off, bindings never answer. This process
// never imports '@abandonware/noble' itself: failures are injected, and the real import runs in
// a child process against the compiled code.

import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimulatedBinding, startBleTestRig } from '../../simulators/bluetooth/index.js';
import { required } from '../../test/peers.js';
import { connect, deadline, rejection, SinkRecorder } from './harness.test-support.js';
import { createBluetoothMapper, loadNoble, nobleFromBinding, type NobleCentral } from './index.js';

const eafnosupport = (): Promise<never> =>
  Promise.reject(Object.assign(new Error('Address family not supported by protocol'), { code: 'EAFNOSUPPORT', errno: -97, syscall: 'socket' }));

describe('loadNoble', () => {
  it("'hci' where the kernel has no Bluetooth: ADAPTER_UNAVAILABLE, with the cause kept", async () => {
    const err = await rejection(loadNoble('hci', { importNoble: eafnosupport }));
    expect(err.code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
    expect(err.message).toMatch(/EAFNOSUPPORT/);
    expect((err.cause as { code?: string }).code).toBe('EAFNOSUPPORT');
  });

  it("'hci' without the compiled HCI socket binding: ADAPTER_UNAVAILABLE", async () => {
    const missing = (): Promise<never> =>
      Promise.reject(Object.assign(new Error("Cannot find module '../build/Release/bluetooth_hci_socket.node'"), { code: 'MODULE_NOT_FOUND' }));
    expect((await rejection(loadNoble('hci', { importNoble: missing }))).code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
  });

  it("'hci' that loads something that is not noble: ADAPTER_UNAVAILABLE", async () => {
    expect((await rejection(loadNoble('hci', { importNoble: () => Promise.resolve({ default: {} }) }))).code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
  });

  it("'hci' resolves with the module's default export once the adapter powers on", async () => {
    const noble = nobleFromBinding(new SimulatedBinding());
    await expect(loadNoble('hci', { importNoble: () => Promise.resolve({ default: noble }) })).resolves.toBe(noble);
  });

  it("'simulated' with the adapter powered off: ADAPTER_UNAVAILABLE", async () => {
    const err = await rejection(loadNoble('simulated', { binding: new SimulatedBinding({ poweredOn: false }) }));
    expect(err.code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
    expect(err.message).toMatch(/poweredOff/);
  });

  it('an adapter that never reports its state: ADAPTER_UNAVAILABLE by the deadline', async () => {
    class Mute extends SimulatedBinding {
      override init(): void {}
    }
    const err = await rejection(loadNoble('simulated', { binding: new Mute(), poweredOnTimeoutMs: 50 }));
    expect(err.code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
    expect(err.message).toMatch(/did not power on within 50 ms/);
  });
});

describe('a mapper without an adapter keeps running', () => {
  it('reads reject with ADAPTER_UNAVAILABLE, subscriptions hear it, and the loader is asked again later', async () => {
    const rig = startBleTestRig();
    let calls = 0;
    let available = false;
    const factory = createBluetoothMapper({
      noble: (): Promise<NobleCentral> => {
        calls++;
        return available ? loadNoble('simulated', { binding: rig.adapter.binding }) : loadNoble('hci', { importNoble: eafnosupport });
      },
      backoff: { initialMs: 10, maxMs: 20, jitter: 0 },
    });
    const h = connect(factory, rig.devices[0]!, rig.model);
    try {
      expect((await rejection(deadline(2000, (s) => h.driver.read(h.pick('u8'), s)))).code).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
      expect(h.driver.state()).toBe('offline');
      const rec = new SinkRecorder();
      const heard = rec.next('temperature', (r) => !r.ok);
      await h.driver.subscribe!(h.pick('temperature'), rec.sink);
      expect(await heard).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE' } });
      const before = calls;
      available = true;
      // The subscription's own reconnect loop asks the loader again and gets the adapter.
      rig.peripherals[0]!.set('temperature', 5);
      const value = rec.next('temperature', (r) => r.ok);
      rig.peripherals[0]!.once('subscribe', () => rig.peripherals[0]!.set('temperature', 6));
      expect(await value).toEqual({ ok: true, value: 6 });
      expect(calls).toBeGreaterThan(before);
      expect(await deadline(2000, (s) => h.driver.read(h.pick('u8'), s))).toEqual([{ ok: true, value: 200 }]);
    } finally {
      await h.driver.close();
      await rig.close();
    }
  });
});

// The real default entry, imported in a child process running the compiled adapter (dist/).
const here = fileURLToPath(new URL('.', import.meta.url));
const built = `${here}../../dist/mappers/bluetooth/adapter.js`;
const source = `${here}adapter.ts`;
const fresh = required('a current build of mappers/bluetooth/adapter.ts (dist/)', existsSync(built) && statSync(built).mtimeMs >= statSync(source).mtimeMs, 'npm run build');

describe('the host adapter (real @abandonware/noble, in a child process)', () => {
  it.skipIf(!fresh)(`loadNoble('hci') ends in ADAPTER_UNAVAILABLE or poweredOn, never a crash${fresh ? '' : ' (skipped: dist/ missing or older than adapter.ts; npm run build)'}`, async () => {
    const script = `
      const { loadNoble } = await import(process.argv[1]);
      try { await loadNoble('hci', { poweredOnTimeoutMs: 3000 }); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
      process.exit(0);`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script, built], { timeout: 15_000 }, (err, stdout) => (err ? reject(new Error(err.message)) : resolve(stdout)));
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { ok?: true; code?: string; message?: string };
    if (!result.ok) expect(result.code, result.message).toBe('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE');
  });
});
