// `edgetwin simulate modbus --device FILE [--port N]`: a simulated device, standalone, for a
// mapper (edgetwin's, KubeEdge's, mbpoll...) to talk to.

import { edgetwinError } from '../errors.js';
import { simulateModbus } from '../simulators/index.js';
import { waitForSignal } from './signals.js';

export interface SimulateOptions {
  readonly device: string;
  readonly models?: readonly string[];
  readonly port?: number;
  readonly host?: string;
  readonly seed?: number;
}

export async function simulateCommand(kind: string, opts: SimulateOptions): Promise<void> {
  if (kind !== 'modbus') throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `no simulator "${kind}" (available: modbus)`);
  const stop = waitForSignal();
  const sim = await simulateModbus({
    device: opts.device,
    ...(opts.models ? { models: opts.models } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  try {
    process.stdout.write(`${sim.description}\nedgetwin simulator ready: modbus on ${sim.host}:${sim.port}\n`);
    await stop;
  } finally {
    await sim.close();
  }
}
