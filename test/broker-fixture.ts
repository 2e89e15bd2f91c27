// An EmbeddedBroker on port 0 and mqtt.js clients on real sockets, all released after each test.

import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach } from 'vitest';
import { EmbeddedBroker } from '../eventbus/index.js';

/** Call at the top of a test file: registers the afterEach that closes what the test opened. */
export function brokerFixture(): {
  readonly startBroker: (options?: ConstructorParameters<typeof EmbeddedBroker>[0]) => Promise<EmbeddedBroker>;
  readonly client: (b: EmbeddedBroker, options?: IClientOptions) => Promise<MqttClient>;
} {
  let broker: EmbeddedBroker | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.close();
    broker = undefined;
  });
  return {
    startBroker: async (options = {}) => {
      broker = new EmbeddedBroker({ port: 0, ...options });
      await broker.start();
      return broker;
    },
    client: async (b, options = {}) => {
      const c = await connectAsync(b.url, { reconnectPeriod: 0, ...options });
      clients.push(c);
      return c;
    },
  };
}
