// The DMI transport's entry point, loaded on demand: gRPC and the .proto cost 100–200 ms of
// start-up that a mapper over the bus or MQTT (and `edgetwin run`) should not pay.

import { edgetwinError } from '../../errors.js';
import type { DmiMapper, DmiMapperOptions } from './dmi-transport.js';

/**
 * Runs `options.factory` as a KubeEdge DMI mapper (docs/dmi.md): serves DeviceMapperService on
 * `mapperSocket`, waits for edgecore's socket, registers, and runs the Devices edgecore gives.
 * Resolves once registered; stop() the result to end. Rejects with a coded error when the
 * socket cannot be served or edgecore refuses the registration, and with
 * EDGETWIN_ERR_MAPPER_ABORTED when `signal` aborts first (the mapper is stopped then).
 */
export async function startDmiMapper(options: DmiMapperOptions, signal?: AbortSignal): Promise<DmiMapper> {
  const { DmiMapper } = await import('./dmi-transport.js');
  const mapper = new DmiMapper(options);
  const onAbort = (): void => void mapper.stop();
  if (signal?.aborted) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', 'stopped before the mapper registered');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await mapper.start();
    return mapper;
  } catch (err) {
    await mapper.stop();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
