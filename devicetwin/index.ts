// devicetwin/: twin state, the pure merge, the message handlers and the durable store.
export type * from './types.js';
export type * from './wire.js';
export type { DeviceEntry, TwinChange } from './context.js';
export { errorResult } from './context.js';
export { DeviceTwin, type DeviceTwinOptions, type TwinUpdateInput } from './service.js';
export { TwinClient, type HistoryGetRequest, type TwinClientOptions, type TwinEvent } from './client.js';
export { mergeUpdate, emptyDevice, type MergeContext, type MergeOutcome, type MergeSuccess, type UpdateOrigin } from './merge.js';
export { computeDelta, twinToWire, twinsToWire } from './document.js';
export { parseTwinUpdate, parseStateUpdate, parseBaseMessage, parseRequestMessage, DEFAULT_PARSE_LIMITS, type ParseLimits, type ParsedUpdate, type TwinPatch } from './parse.js';
export { SqliteTwinStore, makeDirectory } from './store/index.js';
export { DEFAULT_HISTORY_POLICY, HISTORY_KINDS, historyEntries, historyFor, type HistoryRequest, type HistoryResult } from './history.js';
export { admitDevices, type DeviceLimits } from './policy.js';
