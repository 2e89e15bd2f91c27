// telemetry/outbox/: the durable, bounded queue between the twin's reported values and every sink.
export {
  TelemetryOutbox,
  DEFAULT_OUTBOX_LIMITS,
  OUTBOX_BACKOFF,
  type Clock,
  type OutboxLimits,
  type SinkHealth,
  type SinkRegistration,
  type SinkStats,
  type TelemetryOutboxOptions,
} from './outbox.js';
