// A broker for a mapper package's own tests (edgetwin/testing): edgetwin's embedded MQTT broker
// on a free port of 127.0.0.1 and mqtt.js clients connected to it, all released by one close().
// Unlike test/broker-fixture.ts (this repository's tests) it registers no test hooks, so it
// works under any test runner: call close() in your afterEach / afterAll.

import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../../eventbus/index.js';

export interface TestBroker {
  readonly broker: EmbeddedBroker;
  /** `mqtt://127.0.0.1:<port>`: give it to an `MqttBus` or to the mapper under test. */
  readonly url: string;
  /** An mqtt.js client on the broker (no reconnects), closed by close(). */
  client(options?: IClientOptions): Promise<MqttClient>;
  /** Ends every client, then the broker; idempotent. */
  close(): Promise<void>;
}

/** Starts the broker (port 0 unless `options.port` says otherwise). */
export async function startTestBroker(options: EmbeddedBrokerOptions = {}): Promise<TestBroker> {
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, ...options });
  await broker.start();
  const clients: MqttClient[] = [];
  let closing: Promise<void> | undefined;
  return {
    broker,
    url: broker.url,
    client: async (clientOptions = {}) => {
      const c = await connectAsync(broker.url, { reconnectPeriod: 0, ...clientOptions });
      clients.push(c);
      return c;
    },
    close: () =>
      (closing ??= (async () => {
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
        await broker.close();
      })()),
  };
}
