// telemetry/: what the node keeps and tells about device values over time. History: the policy
// from the config, queries as people write them, and the MQTT extension that answers them (the
// store keeps the entries, devicetwin/store/history-*.ts; the HTTP API is edgecore/http/).
export { historyPolicy } from './history-policy.js';
export { DEFAULT_SINCE_MS, describeStep, parseHistoryParams, parseTime, type HistoryParams } from './history-request.js';
export { HistoryResponder, type HistoryGetMessage, type HistoryGetResult, type HistoryResponderOptions } from './history-mqtt.js';
export type { Sink, SinkRecord } from './sink.js';
// Prometheus: device values on /metrics, and remote write (docs/telemetry.md).
export * from './prometheus/index.js';
export * from './remote-write/index.js';
export { PushTelemetry, pushTelemetryConfig, type PushTelemetryConfig, type PushTelemetryOptions, type SharedSink } from './push.js';
export { TelemetryFeed, typedValue, type FeedSource, type FeedTarget } from './feed.js';
export { TelemetryOutbox, DEFAULT_OUTBOX_LIMITS, type Clock as OutboxClock, type OutboxLimits, type SinkStats } from './outbox/index.js';
export { buildSinks, type Destinations, type DestinationConfig } from './sinks/index.js';
