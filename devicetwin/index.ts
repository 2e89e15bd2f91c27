// devicetwin/: twin state, the pure merge, the message handlers and the durable store.
export type * from './types.js';
export type * from './wire.js';
export type { DeviceEntry, TwinChange } from './context.js';
export { DeviceTwin, type DeviceTwinOptions, type TwinUpdateInput } from './service.js';
export { TwinClient, type TwinClientOptions, type TwinEvent } from './client.js';
export { mergeUpdate, emptyDevice, type MergeContext, type MergeOutcome, type MergeSuccess, type UpdateOrigin } from './merge.js';
export { computeDelta, twinToWire, twinsToWire } from './document.js';
export { parseTwinUpdate, parseStateUpdate, parseBaseMessage, DEFAULT_PARSE_LIMITS, type ParseLimits, type ParsedUpdate, type TwinPatch } from './parse.js';
export { SqliteTwinStore } from './store/index.js';
export { admitDevices, type DeviceLimits } from './policy.js';
