// devicetwin/: twin state, the pure merge, the message handlers and the durable store.
export type * from './types.js';
// The wire types and the client live in wire/ (where mappers may import them); re-exported here as before.
export type * from '../wire/index.js';
export { TwinClient, publishDevice, publishNode, type HistoryGetRequest, type TwinClientOptions, type TwinEvent, type DeviceTopicPayloads, type NodeTopicPayloads, type GetRequest } from '../wire/index.js';
export type { DeviceEntry, TwinChange } from './context.js';
export { errorResult } from './context.js';
export { DeviceTwin, type DeviceTwinOptions, type TwinEvents, type TwinUpdateInput } from './service.js';
export { mergeUpdate, emptyDevice, type MergeContext, type MergeOutcome, type MergeSuccess, type UpdateOrigin } from './merge.js';
export { computeDelta, twinToWire, twinsToWire } from './document.js';
export { parseTwinUpdate, parseStateUpdate, parseBaseMessage, parseRequestMessage, DEFAULT_PARSE_LIMITS, type ParseLimits, type ParsedUpdate, type TwinPatch } from './parse.js';
export { SqliteTwinStore, makeDirectory } from './store/index.js';
export { DEFAULT_HISTORY_POLICY, HISTORY_KINDS, historyEntries, historyFor, type HistoryRequest, type HistoryResult } from './history.js';
export { admitDevices, type DeviceLimits } from './policy.js';
