// `edgetwin twin get|set|watch <ns/name>`: talk to a running edgetwin over MQTT.

import { edgetwinError } from '../errors.js';
import { TwinClient } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';

export interface TwinCommandOptions {
  readonly broker: string;
  readonly timeout: number;
}

async function withClient<T>(opts: TwinCommandOptions, fn: (client: TwinClient, bus: MqttBus) => Promise<T>): Promise<T> {
  const bus = new MqttBus({ url: opts.broker, clientId: `edgetwin-cli-${process.pid}`, connectTimeoutMs: opts.timeout });
  await bus.start();
  try {
    return await fn(new TwinClient(bus, { timeoutMs: opts.timeout }), bus);
  } finally {
    await bus.close();
  }
}

/** `prop=value` pairs → a record; values may contain `=`. */
export function parseAssignments(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `"${pair}" is not property=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (pairs.length === 0) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', 'give at least one property=value');
  return out;
}

export async function twinGet(id: string, opts: TwinCommandOptions): Promise<void> {
  const result = await withClient(opts, (client) => client.get(id));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export async function twinSet(id: string, pairs: readonly string[], opts: TwinCommandOptions & { actual?: boolean }): Promise<void> {
  const values = parseAssignments(pairs);
  const result = await withClient(opts, (client) => (opts.actual ? client.reportActual(id, values) : client.setDesired(id, values)));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** Prints one JSON line per event until SIGINT, or until `count` events. */
export async function twinWatch(id: string, opts: TwinCommandOptions & { count?: number }): Promise<void> {
  await withClient(opts, async (client) => {
    let seen = 0;
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      client
        .watch(id, (event) => {
          if (opts.count !== undefined && seen >= opts.count) return;
          process.stdout.write(`${JSON.stringify({ kind: event.kind, ...event.message })}\n`);
          if (opts.count !== undefined && ++seen >= opts.count) stop();
        })
        .then(() => process.stderr.write(`watching ${id} (Ctrl-C to stop)\n`), (err: unknown) => {
          process.stderr.write(`${String(err)}\n`);
          stop();
        });
    });
  });
}
