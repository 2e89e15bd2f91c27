// The Prometheus side of telemetry in one EdgeCore (docs/telemetry.md): device values on
// /metrics (telemetry/prometheus/), and remote write (telemetry/remote-write/) of edgetwin's own
// metrics every `telemetry.remoteWrite.interval`. The device-value sink (`sink`) is handed to the
// telemetry outbox, which owns its queue and retries; it is built here from the same settings.

import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { toEdgetwinError } from '../errors.js';
import { parseDuration, type EdgetwinConfig } from '../schemas/index.js';
import { DEVICE_VALUE_METRICS, DeviceValueCollector, OwnMetricsWriter, RemoteWriteSink, deviceValuesPolicy, pushTelemetryConfig, PushTelemetry, selectedProperties, type DeviceValuesSource, type FeedSource, type SharedSink } from '../telemetry/index.js';
import type { EdgeMetrics } from './metrics.js';
import { logProblem } from './logger.js';
import { VERSION } from './version.js';

export interface PrometheusTelemetryOptions {
  readonly config: EdgetwinConfig;
  readonly logger: Logger;
  /** Absent when http.enabled is false: then neither /metrics nor own metrics exist. */
  readonly metrics: EdgeMetrics | undefined;
  readonly twin: () => DeviceValuesSource | undefined;
}

// Floors for durations written as 0 (the schema's duration type allows it): no busy loop, no instant timeout.
const MIN_INTERVAL_MS = 1000;
const MIN_TIMEOUT_MS = 100;
const DEVICE_NAMES: ReadonlySet<string> = new Set(Object.values(DEVICE_VALUE_METRICS));

export class PrometheusTelemetry {
  private readonly opts: PrometheusTelemetryOptions;
  private collector?: DeviceValueCollector;
  private writer?: OwnMetricsWriter;
  /** The remote-write sink of device values, for the telemetry outbox; undefined without `telemetry.remoteWrite.url`. */
  sink?: RemoteWriteSink;

  constructor(opts: PrometheusTelemetryOptions) {
    this.opts = opts;
  }

  /** Never throws: unreadable credentials are logged (EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS) and remote write stays off. */
  start(): void {
    const { config, logger, metrics } = this.opts;
    if (metrics) {
      this.collector = new DeviceValueCollector({ policy: deviceValuesPolicy(config.telemetry.prometheus), twin: this.opts.twin, registry: metrics.registry, logger });
    }
    const rw = config.telemetry.remoteWrite;
    if (rw.url === undefined) return;
    try {
      this.sink = new RemoteWriteSink({
        name: 'remote-write',
        url: rw.url,
        headers: rw.headers,
        ...(rw.auth !== undefined ? { auth: rw.auth } : {}),
        timeoutMs: Math.max(MIN_TIMEOUT_MS, parseDuration(rw.timeout) ?? 10_000),
        labels: { node: config.nodeName, ...rw.labels },
        userAgent: `edgetwin/${VERSION}`,
      });
    } catch (err) {
      logProblem(logger, 'error', toEdgetwinError(err, 'EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS'), {}, 'running without remote write: ');
      return;
    }
    if (metrics) this.addRemoteWriteMetrics(metrics, this.sink);
    if (metrics && rw.ownMetrics) {
      this.writer = new OwnMetricsWriter({
        client: this.sink.client,
        intervalMs: Math.max(MIN_INTERVAL_MS, parseDuration(rw.interval) ?? 30_000),
        labels: { node: config.nodeName, ...rw.labels },
        skip: (name) => DEVICE_NAMES.has(name),
        snapshot: async () => {
          metrics.refresh();
          return metrics.registry.getMetricsAsJSON();
        },
        logger,
      });
      this.writer.start();
    }
  }

  /**
   * Remote write of device values as the telemetry outbox takes it: the properties /metrics
   * exports (selectedProperties, the one opt-in rule), a batch every `remoteWrite.interval`.
   */
  sharedSink(): SharedSink | undefined {
    const sink = this.sink;
    if (!sink) return undefined;
    const { config } = this.opts;
    const policy = deviceValuesPolicy(config.telemetry.prometheus);
    return {
      sink,
      intervalMs: Math.max(MIN_INTERVAL_MS, parseDuration(config.telemetry.remoteWrite.interval) ?? 30_000),
      select: (instance, model) => selectedProperties(policy, instance, model),
    };
  }

  /**
   * KubeEdge's pushMethod/dbMethod sinks behind the durable outbox, fed by the twin's committed
   * values; remote write of device values (sharedSink) rides the same outbox.
   */
  pushTelemetry(twin: FeedSource): PushTelemetry {
    const { config, logger, metrics } = this.opts;
    const remoteWrite = this.sharedSink();
    return new PushTelemetry({
      config: pushTelemetryConfig(config.telemetry),
      dataDir: config.dataDir,
      twin,
      logger: logger.child({ module: 'telemetry' }),
      ...(metrics ? { registry: metrics.registry } : {}),
      ...(remoteWrite ? { shared: [remoteWrite] } : {}),
    });
  }

  async stop(): Promise<void> {
    await this.writer?.stop();
    await this.sink?.close();
  }

  private addRemoteWriteMetrics(metrics: EdgeMetrics, sink: RemoteWriteSink): void {
    const registers = [metrics.registry];
    const requests = new Counter({
      name: 'edgetwin_remote_write_requests_total',
      help: 'Remote-write requests, by outcome: ok, unavailable (network, timeout, 5xx, 429: retried), refused (other 4xx: not retried)',
      labelNames: ['outcome'],
      registers,
      collect: () => {
        const s = sink.stats();
        requests.reset();
        requests.inc({ outcome: 'ok' }, s.requests - s.failures - s.refusals);
        requests.inc({ outcome: 'unavailable' }, s.failures);
        requests.inc({ outcome: 'refused' }, s.refusals);
        samples.reset();
        samples.inc(s.samples);
        bytes.reset();
        bytes.inc(s.bytes);
        last.set(s.lastSuccessAt === undefined ? 0 : s.lastSuccessAt / 1000);
        const own = this.writer?.stats();
        snapshots.reset();
        snapshots.inc({ outcome: 'written' }, own?.written ?? 0);
        snapshots.inc({ outcome: 'dropped' }, own?.dropped ?? 0);
      },
    });
    const samples = new Counter({ name: 'edgetwin_remote_write_samples_total', help: 'Samples written by remote write (device values and own metrics)', registers });
    const bytes = new Counter({ name: 'edgetwin_remote_write_bytes_total', help: 'Compressed request bytes written by remote write', registers });
    const last = new Gauge({ name: 'edgetwin_remote_write_last_success_timestamp_seconds', help: 'When a remote-write request last succeeded (0: never)', registers });
    const snapshots = new Counter({ name: 'edgetwin_remote_write_own_metrics_snapshots_total', help: 'Snapshots of own metrics, by outcome: written, dropped (a failed one is not retried; the next replaces it)', labelNames: ['outcome'], registers });
  }
}
