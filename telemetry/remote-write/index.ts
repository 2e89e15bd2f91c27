// telemetry/remote-write/: Prometheus remote write 1.0 (https://prometheus.io/docs/specs/remote_write_spec):
// device values as a Sink behind the outbox, edgetwin's own metrics as periodic snapshots.
export { DEVICE_VALUE_METRIC, compressBody, deviceSeries, encodeWriteRequest, sampleValue, type SeriesInput } from './encode.js';
export { registrySeries, type RegistryMetric } from './registry-series.js';
export { RemoteWriteClient, authorizationHeader, type RemoteWriteAuthConfig, type RemoteWriteClientOptions, type RemoteWriteStats } from './client.js';
export { RemoteWriteSink, type RemoteWriteSinkOptions, type RemoteWriteSinkStats } from './sink.js';
export { OwnMetricsWriter, type OwnMetricsWriterOptions } from './own-metrics.js';
