// `edgetwin devices`: the node's devices and their health at a glance, over MQTT like the twin
// commands. One `membership/get` (with edgetwin's `include: ["protocol", "model"]`) lists the
// devices, their state and last online time; a `twin/get` per device (pipelined over one
// subscription, a bounded number in flight: TwinClient.getMany) gives open deltas and failed
// acks. A table on a terminal, JSON lines otherwise (or with --json).

import { edgetwinError, isEdgetwinError, type EdgetwinError } from '../errors.js';
import type { DeviceTwinResult } from '../devicetwin/index.js';
import { formatDeviceTable, summarizeDevice, wantsJson, type DeviceSummary } from './format.js';
import { withClient, type TwinCommandOptions } from './twin.js';

export interface DevicesOptions extends TwinCommandOptions {
  readonly node: string;
  readonly json?: boolean;
  readonly concurrency: number;
}

export async function devicesCommand(opts: DevicesOptions): Promise<void> {
  const { membership, twins } = await withClient(opts, async (client) => {
    const membership = await client.membership(opts.node, { include: ['protocol', 'model'] }).catch((err: unknown) => {
      // A node answers membership/get for its own name only: silence usually means another name.
      if (isEdgetwinError(err, 'EDGETWIN_ERR_TIMEOUT')) throw edgetwinError(err.code, `${err.message} (the node's name is its config nodeName, printed on its ready line: pass --node <name>)`);
      throw err;
    });
    const twins = new Map<string, DeviceTwinResult | EdgetwinError>();
    const ids = membership.devices.map((d) => d.id).filter((id): id is string => id !== undefined);
    await client.getMany(ids, (id, result) => twins.set(id, result), { concurrency: opts.concurrency });
    return { membership, twins };
  });
  const summaries: DeviceSummary[] = membership.devices.map((d) => summarizeDevice(d, d.id === undefined ? undefined : twins.get(d.id)));
  if (wantsJson(opts.json)) {
    for (const s of summaries) process.stdout.write(`${JSON.stringify(s)}\n`);
  } else {
    process.stdout.write(formatDeviceTable(summaries, membership.timestamp));
  }
  // The table shows "?" for them; the reason is said once, here.
  const failed = [...twins].filter((e): e is [string, EdgetwinError] => !('twin' in e[1]));
  const [first] = failed;
  if (first) {
    const list = failed.slice(0, 5).map(([id, e]) => `${id} (${e.code})`).join(', ');
    const more = failed.length > 5 ? ` and ${failed.length - 5} more` : '';
    throw edgetwinError(first[1].code, `the twins of ${failed.length} of ${summaries.length} devices could not be read: ${list}${more}; first: ${first[1].message}`);
  }
}
