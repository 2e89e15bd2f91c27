// The load of bench (g1) in its own process, as a mapper is: `dmi <socket>` sends
// ReportDeviceStatus calls, `mqtt <url>` the same values as twin/update at QoS 1. Prints one
// JSON line with the values per second acknowledged (DMI: answered after the commit; MQTT:
// PUBACK after the commit). Run by runBenchChild.

import * as grpc from '@grpc/grpc-js';
import { callUnary, dmiServices, LOCAL_CHANNEL_OPTIONS, unixTarget } from '../dmi/index.js';
import { connectClient, POWER_METER } from './lib.js';

const [mode = '', target = '', devices = '100', calls = '1000', channels = '4', window = '16', perCall = '1'] = process.argv.slice(2);
const o = { devices: Number(devices), calls: Number(calls), channels: Number(channels), window: Number(window), perCall: Number(perCall) };

// The power meter's four numeric properties: a device's cycle in one call.
const PROPS = POWER_METER.properties.filter((p) => p !== 'relay');
const value = (p: string, n: number): string => (p === 'energy' ? String(n % 100_000) : ((n % 500) / 10 + 1).toFixed(1));
const prop = (n: number, i: number): string => PROPS[(n + i) % PROPS.length]!;

/** At most `window` in flight until `n` completed. */
function pump(n: number, inFlight: number, send: (seq: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await send(next++);
  };
  return Promise.all(Array.from({ length: inFlight }, worker)).then(() => undefined);
}

async function dmi(): Promise<number> {
  const clients = Array.from({ length: o.channels }, () => new grpc.Client(unixTarget(target), grpc.credentials.createInsecure(), LOCAL_CHANNEL_OPTIONS));
  const md = { type: '', timestamp: '' };
  const perChannel = Math.ceil(o.calls / o.channels);
  const t0 = performance.now();
  await Promise.all(
    clients.map((client, c) =>
      pump(perChannel, o.window, (seq) => {
        const n = seq * o.channels + c;
        const twins = Array.from({ length: o.perCall }, (_, i) => ({ propertyName: prop(n, i), reported: { value: value(prop(n, i), n), metadata: md }, observedDesired: { value: '', metadata: md } }));
        return callUnary(client, dmiServices().manager, 'ReportDeviceStatus', { deviceName: `bench-${n % o.devices}`, deviceNamespace: 'default', reportedDevice: { twins } }, 10_000);
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  return (perChannel * o.channels * o.perCall) / seconds;
}

async function mqtt(): Promise<number> {
  const clients = await Promise.all(Array.from({ length: o.channels }, (_, i) => connectClient(target, `bench-g-${i}-${process.pid}`)));
  const perChannel = Math.ceil(o.calls / o.channels);
  const t0 = performance.now();
  await Promise.all(
    clients.map((client, c) =>
      pump(perChannel, o.window, (seq) => {
        const n = seq * o.channels + c;
        const twin: Record<string, object> = {};
        for (let i = 0; i < o.perCall; i++) twin[prop(n, i)] = { actual: { value: value(prop(n, i), n) } };
        return client.publishAsync(`$hw/events/device/default/bench-${n % o.devices}/twin/update`, JSON.stringify({ event_id: '', timestamp: Date.now(), twin }), { qos: 1 });
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  return (perChannel * o.channels * o.perCall) / seconds;
}

const valuesPerSecond = mode === 'dmi' ? await dmi() : await mqtt();
console.log(JSON.stringify({ valuesPerSecond }));
