// mappers/sdk: the mapper contract and the runtime every mapper shares.
export type * from './types.js';
export { MapperRuntime, type MapperRuntimeOptions, type BoundDeviceInput, type PollReport } from './runtime.js';
export { bindDevice, compileFactorySchemas, RUNTIME_VISITOR_KEYS, type RuntimePropertyOptions, type BoundDevice } from './config.js';
export { SerialQueue, type Lane } from './queue.js';
export { backoffMs, cycleMs, sameReading, shouldReport, DEFAULT_BACKOFF, type BackoffOptions } from './policy.js';
export { checkConfig, shortestFloat32 } from './values.js';
export type { DmiMapper, DmiMapperOptions } from './dmi-transport.js';
export { startDmiMapper } from './dmi.js';
export { defineMapper, type MapperDefinition } from './define.js';
