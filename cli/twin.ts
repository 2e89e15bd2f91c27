// `edgetwin twin get|set|watch <ns/name>`: talk to a running edgetwin over MQTT. On a terminal
// they print for people (a table, one line per change); piped, or with --json, the JSON they
// always printed, byte for byte, for scripts.

import { edgetwinError, toEdgetwinError } from '../errors.js';
import { TwinClient, type DeviceTwinResult } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';
import { waitForAcks } from './acks.js';
import { formatTwinTable, formatWatchLine, wantsJson } from './format.js';

export interface TwinCommandOptions {
  readonly broker: string;
  readonly timeout: number;
}

export async function withClient<T>(opts: TwinCommandOptions, fn: (client: TwinClient, bus: MqttBus) => Promise<T>): Promise<T> {
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

export async function twinGet(id: string, opts: TwinCommandOptions & { json?: boolean }): Promise<void> {
  const json = wantsJson(opts.json);
  // Units come from the model, which only the node has: asked for only when printing the table,
  // so the JSON stays exactly the twin/get answer.
  const result = await withClient(opts, (client) => (json ? client.get(id) : client.get(id, { include: ['units'] })));
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatTwinTable(result));
}

/** One line per property set: `setpoint desired=21 (pending)`, after the version. */
function setSummary(id: string, result: DeviceTwinResult, names: readonly string[]): string {
  const parts = names.map((n) => {
    const t = result.twin[n];
    const side = t?.expected ?? t?.actual;
    return `${n}${t?.expected ? ' desired' : ''}=${side?.value ?? '?'}${t?.ack ? ` (${t.ack.state})` : ''}`;
  });
  return `${id} version ${result.version ?? '?'}: ${parts.join(', ')}\n`;
}

export async function twinSet(
  id: string,
  pairs: readonly string[],
  opts: TwinCommandOptions & { actual?: boolean; wait?: boolean; json?: boolean },
): Promise<void> {
  const values = parseAssignments(pairs);
  if (opts.wait && opts.actual) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', '--wait waits for a mapper to ack desired values; reported values (--actual) get no ack');
  const json = wantsJson(opts.json);
  await withClient(opts, async (client) => {
    if (!opts.wait) {
      const result = await (opts.actual ? client.reportActual(id, values) : client.setDesired(id, values));
      process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : setSummary(id, result, Object.keys(values)));
      return;
    }
    await waitForAcks(client, id, values, opts.timeout, (result) => {
      process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : setSummary(id, result, Object.keys(values)));
    }, (line) => {
      if (!json) process.stdout.write(`${line}\n`);
    });
  });
}

/**
 * Until SIGINT, or until `count` events (JSON) or lines (text): JSON lines of every document,
 * delta and result, or on a terminal one compact line per change (cli/format.ts).
 */
export async function twinWatch(id: string, opts: TwinCommandOptions & { count?: number; json?: boolean }): Promise<void> {
  const json = wantsJson(opts.json);
  await withClient(opts, async (client) => {
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      const detach = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      };
      const stop = (): void => {
        detach();
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      client
        .watch(id, (event) => {
          if (opts.count !== undefined && seen >= opts.count) return;
          const line = json ? JSON.stringify({ kind: event.kind, ...event.message }) : formatWatchLine(event);
          if (line === undefined) return;
          process.stdout.write(`${line}\n`);
          if (opts.count !== undefined && ++seen >= opts.count) stop();
        })
        .then(
          () => process.stderr.write(`watching ${id} (Ctrl-C to stop)\n`),
          (err: unknown) => {
            // Printed once, coded, by main (e.g. EDGETWIN_ERR_ACCESS_DENIED), and the exit is 1.
            detach();
            reject(toEdgetwinError(err));
          },
        );
    });
  });
}
