// Prometheus metrics of one EdgeCore, in a Registry it owns (never prom-client's global one).
// Two ways in. The hot paths (twin updates, store commits, mapper polls) call small observers
// that bump plain numbers, so a message costs a few increments and no allocation; everything
// else (broker, mappers, twin states, cloud sync) is read only when Prometheus scrapes, in
// refresh(). docs/observability.md lists every series.

import { VERSION } from './version.js';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processRegistry } from './process-metrics.js';
import type { AckState, DeviceTwin, DeviceTwinOptions, DeviceStateName, SqliteTwinStore, UpdateOrigin } from '../devicetwin/index.js';
import type { AuthStats, BrokerStats, ExternalBusStatus } from '../eventbus/index.js';
import type { MapperRuntime, MapperRuntimeOptions } from '../mappers/index.js';
import type { DmiHealth, DmiObserver } from '../dmi/index.js';

export type TwinObserver = NonNullable<DeviceTwinOptions['observer']>;
export type UpdateOutcome = Parameters<TwinObserver['update']>[0];
export type CommitObserver = NonNullable<ConstructorParameters<typeof SqliteTwinStore>[0]['onCommit']>;
export type MaintenanceObserver = NonNullable<ConstructorParameters<typeof SqliteTwinStore>[0]['onMaintain']>;
export type PollObserver = NonNullable<MapperRuntimeOptions['onPoll']>;
type MapperStatus = ReturnType<MapperRuntime['status']>[number];

/**
 * What metrics and /readyz read from cloud sync: a structural subset of CloudSync.health(), so
 * cloudsync/ needs no import of edgecore/. `oldestPendingAt` (ms), when cloud sync reports it,
 * makes the lag exact; without it the lag is the time since the last accepted write while
 * work waits (an over-estimate when the waiting change is newer than that write).
 */
export interface CloudSyncProbe {
  health(): {
    readonly state: string;
    readonly writer: { readonly pending: number; readonly lastSuccessAt?: number; readonly oldestPendingAt?: number };
    readonly api: { readonly calls: number; readonly bytes: number };
  };
}

/** Where refresh() reads the scrape-time values; each returns undefined while its module is down. */
export interface MetricsSources {
  broker(): BrokerStats | undefined;
  /** The broker's auth policy (eventbus/auth); absent in setups without one. */
  auth?(): AuthStats | undefined;
  twin(): Pick<DeviceTwin, 'list' | 'historyStats'> | undefined;
  mappers(): readonly MapperStatus[];
  cloudSync(): CloudSyncProbe | undefined;
  /** The outside broker's client (mqtt.mode external or both). */
  external?(): ExternalBusStatus | undefined;
  /** DMI (docs/dmi.md), when dmi.socket is set. */
  dmi?(): DmiHealth | undefined;
}

const OUTCOMES = ['applied', 'unchanged', 'rejected', 'failed'] as const satisfies readonly UpdateOutcome[];
const ORIGINS = ['edge', 'cloud', 'sync'] as const satisfies readonly UpdateOrigin[];
const ACKS = ['pending', 'applied', 'rejected', 'failed'] as const satisfies readonly AckState[];
const DEVICE_STATES = ['online', 'offline', 'ok', 'unknown', 'unhealthy'] as const satisfies readonly DeviceStateName[];
const CLOUD_STATES = ['off', 'stopped', 'starting', 'synced', 'degraded'] as const;
const HISTORY_TIERS = ['raw', 'minute', 'hour'] as const;
const MAINTENANCE_ACTIONS = ['downsampled', 'expired', 'evicted'] as const;

type Cells = Record<UpdateOutcome, Record<UpdateOrigin, number>>;
const cells = (): Cells => Object.fromEntries(OUTCOMES.map((o) => [o, { edge: 0, cloud: 0, sync: 0 }])) as Cells;

// Store commits of a group take ~0.1–2 ms with synchronous=normal; fsync (full) and SD cards
// push them to tens of ms, hence buckets up to 1 s.
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const GROUP_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];
// Modbus TCP round trips are ~0.1–2 ms on a LAN; RTU at 9600 baud and retries reach seconds.
const POLL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
// The closed loop: a write plus a read-back is milliseconds; a device offline for hours is not.
const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];
// A maintenance run with nothing to do takes a millisecond; trimming a month, paced, minutes.
const MAINTENANCE_BUCKETS = [0.001, 0.01, 0.1, 1, 10, 60, 600];
// A DMI call on a local socket is ~0.2–2 ms plus the work behind it (a commit, a device restart).
const DMI_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export class EdgeMetrics {
  readonly registry = new Registry();
  private readonly sources: MetricsSources;
  /** Twin updates by code ('' for success), outcome and origin: bumped on the hot path. */
  private readonly updates = new Map<string, Cells>();
  private readonly acks: Record<AckState, number> = { pending: 0, applied: 0, rejected: 0, failed: 0 };
  /** Per device, conflict windows in which two mappers reported for it. */
  private readonly conflicts = new Map<string, number>();
  private commitFailures = 0;
  /** DMI counts keyed by their label values joined with NUL: bumped on the hot path. */
  private readonly dmiServed = new Map<string, number>();
  private readonly dmiCalled = new Map<string, number>();
  private readonly dmiRefused = new Map<string, number>();
  private lastCommitError: string | undefined;
  private readonly maintained: Record<(typeof MAINTENANCE_ACTIONS)[number], number> = { downsampled: 0, expired: 0, evicted: 0 };
  private readonly m;

  constructor(sources: MetricsSources) {
    this.sources = sources;
    const registers = [this.registry];
    this.m = {
      updates: new Counter({ name: 'edgetwin_twin_updates_total', help: 'Twin updates answered, by outcome (applied, unchanged, rejected, failed), origin (edge: MQTT, cloud: the API, sync: twin/cloud_updated) and error code', labelNames: ['outcome', 'origin', 'code'], registers }),
      acks: new Counter({ name: 'edgetwin_twin_desired_acks_total', help: 'Desired-value ack transitions: pending (a new desired value), applied, rejected, failed', labelNames: ['state'], registers }),
      ackSeconds: new Histogram({ name: 'edgetwin_twin_desired_ack_seconds', help: 'Delta age when it closed: from a desired value being set to its ack (applied, rejected, failed)', labelNames: ['state'], buckets: ACK_BUCKETS, registers }),
      desired: new Gauge({ name: 'edgetwin_twin_desired', help: 'Desired values now in the twins, by ack state', labelNames: ['ack'], registers }),
      deltas: new Gauge({ name: 'edgetwin_twin_deltas', help: 'Open deltas: properties whose desired value differs from the reported one', registers }),
      deltaAge: new Gauge({ name: 'edgetwin_twin_delta_oldest_age_seconds', help: 'Age of the oldest open delta (0 when none)', registers }),
      devices: new Gauge({ name: 'edgetwin_devices', help: 'Devices bound to this node, by state (from state/update)', labelNames: ['state'], registers }),
      properties: new Gauge({ name: 'edgetwin_twin_properties', help: 'Twin properties held (not deleted)', registers }),
      commitSeconds: new Histogram({ name: 'edgetwin_store_commit_duration_seconds', help: 'Duration of one store transaction (a group commit)', buckets: COMMIT_BUCKETS, registers }),
      commitGroup: new Histogram({ name: 'edgetwin_store_commit_group_size', help: 'Change groups (about one per message) folded into one transaction', buckets: GROUP_BUCKETS, registers }),
      commitFailures: new Counter({ name: 'edgetwin_store_commit_failures_total', help: 'Store transactions that failed (nothing of them was applied)', registers }),
      pollSeconds: new Histogram({ name: 'edgetwin_mapper_poll_duration_seconds', help: "One successful poll of a device's properties sharing a collectCycle, queue wait included", labelNames: ['protocol'], buckets: POLL_BUCKETS, registers }),
      polls: new Counter({ name: 'edgetwin_mapper_polls_total', help: 'Polls per device connection, by outcome', labelNames: ['device', 'protocol', 'outcome'], registers }),
      timeouts: new Counter({ name: 'edgetwin_mapper_timeouts_total', help: 'Device requests (polls and writes) that hit their deadline, per device connection', labelNames: ['device', 'protocol'], registers }),
      conflicts: new Counter({ name: 'edgetwin_mapper_conflicts_total', help: 'Times two clients (mappers) were seen reporting for one device, at most once per minute per device (logged as EDGETWIN_ERR_MAPPER_CONFLICT)', labelNames: ['device'], registers }),
      reconnects: new Counter({ name: 'edgetwin_mapper_reconnects_total', help: 'Times a device connection was opened again after the first', labelNames: ['device', 'protocol'], registers }),
      up: new Gauge({ name: 'edgetwin_mapper_device_up', help: "1 when the mapper runtime sees the device online, 0 when offline or not yet polled", labelNames: ['device', 'protocol'], registers }),
      queue: new Gauge({ name: 'edgetwin_mapper_queue_depth', help: "Requests waiting in the device connection's serial queue", labelNames: ['device', 'protocol'], registers }),
      clients: new Gauge({ name: 'edgetwin_mqtt_clients', help: 'MQTT clients connected', registers }),
      inflight: new Gauge({ name: 'edgetwin_mqtt_inflight_messages', help: 'Messages from MQTT clients admitted and not yet acknowledged: their ingest (validation, commit) has not finished', registers }),
      received: new Counter({ name: 'edgetwin_mqtt_messages_received_total', help: 'PUBLISH packets received from MQTT clients', registers }),
      sent: new Counter({ name: 'edgetwin_mqtt_messages_sent_total', help: 'PUBLISH packets sent to MQTT clients', registers }),
      ingestFailures: new Counter({ name: 'edgetwin_mqtt_ingest_failures_total', help: 'Ingest handlers that failed unexpectedly (the message was acknowledged anyway)', registers }),
      unacknowledged: new Counter({ name: 'edgetwin_mqtt_unacknowledged_total', help: 'Messages not acknowledged because the twin could not commit them (e.g. disk full): no PUBACK, the connection closed so the sender resends', registers }),
      denied: new Counter({ name: 'edgetwin_mqtt_denied_total', help: 'Publishes and subscriptions refused by an authorizer', registers }),
      refused: new Counter({ name: 'edgetwin_mqtt_connections_refused_total', help: 'CONNECTs refused: credentials, anonymous policy, connection limit', registers }),
      externalConnected: new Gauge({ name: 'edgetwin_mqtt_external_connected', help: '1 while connected to the external broker (mqtt.mode external or both), else 0', registers }),
      externalInflight: new Gauge({ name: 'edgetwin_mqtt_external_inflight_messages', help: 'Messages taken from the external broker and not yet acknowledged to it: their ingest (validation, commit) has not finished', registers }),
      externalAcked: new Counter({ name: 'edgetwin_mqtt_external_acked_total', help: 'QoS 1 messages acknowledged to the external broker, each after its ingest (commit)', registers }),
      inflightExceeded: new Counter({ name: 'edgetwin_mqtt_inflight_exceeded_total', help: 'Clients disconnected for exceeding mqtt.limits.maxInflightPerClient', registers }),
      retainCleared: new Counter({ name: 'edgetwin_mqtt_retain_cleared_total', help: 'Publishes to $hw/ topics whose retain flag was cleared: delivered and processed, never retained', registers }),
      loginBackoffs: new Counter({ name: 'edgetwin_mqtt_login_backoffs_total', help: 'Failed password checks whose CONNACK refusal was held back (exponential per address and user name)', registers }),
      clientIdRefused: new Counter({ name: 'edgetwin_mqtt_client_id_refused_total', help: "CONNECTs refused (CONNACK 2) because another user's session owns the client id", registers }),
      revoked: new Counter({ name: 'edgetwin_mqtt_clients_revoked_total', help: 'Clients disconnected because their user was removed from the users file or lost rights in it', registers }),
      oversized: new Counter({ name: 'edgetwin_mqtt_oversized_packets_total', help: 'Connections dropped for announcing a packet over its size limit (mqtt.maxPacketBytes, mqtt.limits.maxConnectBytes)', registers }),
      violations: new Counter({ name: 'edgetwin_mqtt_protocol_violations_total', help: 'Connections dropped for bytes that are not MQTT (no CONNECT first, a second CONNECT, a bad length)', registers }),
      pending: new Gauge({ name: 'edgetwin_mqtt_pending_connections', help: 'Sockets that have not sent their whole CONNECT yet (not counted against mqtt.limits.maxConnections)', registers }),
      connectTimeouts: new Counter({ name: 'edgetwin_mqtt_connect_timeouts_total', help: 'Sockets closed for sending no CONNECT within mqtt.limits.connectTimeoutMs', registers }),
      connectEvictions: new Counter({ name: 'edgetwin_mqtt_connect_evictions_total', help: 'Sockets without a CONNECT closed to make room for a newer one (their pool is mqtt.limits.maxConnections)', registers }),
      outgoingDropped: new Counter({ name: 'edgetwin_mqtt_outgoing_dropped_total', help: 'QoS 0 messages not sent to a client whose unread backlog was over half of mqtt.limits.maxOutgoingBytesPerClient', registers }),
      slowClients: new Counter({ name: 'edgetwin_mqtt_slow_clients_disconnected_total', help: 'Clients disconnected for leaving too much unread (mqtt.limits.maxOutgoingBytesPerClient, outgoingStallMs)', registers }),
      subsRefused: new Counter({ name: 'edgetwin_mqtt_subscriptions_refused_total', help: 'Subscriptions granted 128 for mqtt.limits.maxSubscriptionsPerClient', registers }),
      retainedRefused: new Counter({ name: 'edgetwin_mqtt_retained_refused_total', help: 'Retained publishes refused for mqtt.limits.maxRetainedMessages or maxRetainedBytes', registers }),
      retained: new Gauge({ name: 'edgetwin_mqtt_retained_messages', help: 'Retained messages the broker holds', registers }),
      retainedBytes: new Gauge({ name: 'edgetwin_mqtt_retained_bytes', help: 'Bytes (topic + payload) of the retained messages the broker holds', registers }),
      qos2Duplicates: new Counter({ name: 'edgetwin_mqtt_qos2_duplicates_total', help: 'QoS 2 retransmissions acknowledged without being processed again', registers }),
      logSuppressed: new Counter({ name: 'edgetwin_log_lines_suppressed_total', help: 'Log lines provoked by MQTT clients beyond their budget, not written', registers }),
      cloudState: new Gauge({ name: 'edgetwin_cloudsync_state', help: 'Cloud sync state: 1 for the current one (off when no kubeconfig is set)', labelNames: ['state'], registers }),
      outbox: new Gauge({ name: 'edgetwin_cloudsync_outbox_depth', help: 'Devices with changes waiting in the outbox to be written to the cluster', registers }),
      lag: new Gauge({ name: 'edgetwin_cloudsync_lag_seconds', help: 'How long the oldest waiting change has waited (0 when the outbox is empty)', registers }),
      apiCalls: new Counter({ name: 'edgetwin_cloudsync_api_requests_total', help: 'Requests made to the Kubernetes API server', registers }),
      apiBytes: new Counter({ name: 'edgetwin_cloudsync_api_bytes_total', help: 'Bytes sent to and received from the Kubernetes API server', registers }),
      historyRows: new Gauge({ name: 'edgetwin_history_rows', help: 'Rows of value history in the store, by tier (raw entries, minute and hour buckets)', labelNames: ['tier'], registers }),
      historyBytes: new Gauge({ name: 'edgetwin_history_bytes', help: 'Estimated size of the value history in the store, by tier (what history.retention.maxBytes limits)', labelNames: ['tier'], registers }),
      maintainedRows: new Counter({ name: 'edgetwin_history_maintained_rows_total', help: 'History rows downsampled into coarser buckets, expired (older than maxAge) or evicted (over maxBytes)', labelNames: ['action'], registers }),
      maintenanceSeconds: new Histogram({ name: 'edgetwin_history_maintenance_duration_seconds', help: 'Duration of one history maintenance run (retention and downsampling, paced between commits)', buckets: MAINTENANCE_BUCKETS, registers }),
      dmiUp: new Gauge({ name: 'edgetwin_dmi_mapper_up', help: 'Registered DMI mappers: 1 while edgetwin reaches the mapper on its socket, 0 when not', labelNames: ['protocol'], registers }),
      dmiDevices: new Gauge({ name: 'edgetwin_dmi_devices', help: 'Devices a DMI mapper has acknowledged (RegisterDevice, UpdateDevice or MapperRegister)', labelNames: ['protocol'], registers }),
      dmiPending: new Gauge({ name: 'edgetwin_dmi_pending', help: 'Devices and models whose latest version a DMI mapper has not acknowledged yet', labelNames: ['protocol'], registers }),
      dmiCalls: new Counter({ name: 'edgetwin_dmi_calls_total', help: 'Calls edgetwin made to DMI mappers (DeviceMapperService), by gRPC status', labelNames: ['protocol', 'method', 'status'], registers }),
      dmiCallSeconds: new Histogram({ name: 'edgetwin_dmi_call_duration_seconds', help: 'One call to a DMI mapper, failed ones included', labelNames: ['method'], buckets: DMI_BUCKETS, registers }),
      dmiRequests: new Counter({ name: 'edgetwin_dmi_requests_total', help: 'Calls DMI mappers made to edgetwin (DeviceManagerService), by error code (empty when answered OK)', labelNames: ['method', 'code'], registers }),
      dmiRequestSeconds: new Histogram({ name: 'edgetwin_dmi_request_duration_seconds', help: 'One DeviceManagerService call, from its arrival to its answer (a report is answered after its commit)', labelNames: ['method'], buckets: DMI_BUCKETS, registers }),
      dmiRefusedDevices: new Counter({ name: 'edgetwin_dmi_devices_refused_total', help: 'Times a Device could not be converted for its DMI mapper (e.g. EDGETWIN_ERR_DMI_VALUE) and was not sent', labelNames: ['protocol', 'code'], registers }),
      info: new Gauge({ name: 'edgetwin_build_info', help: 'Constant 1, labelled with the edgetwin and Node.js versions', labelNames: ['version', 'nodejs'], registers }),
    };
    this.m.info.set({ version: VERSION, nodejs: process.version }, 1);
  }

  /** Passed to DeviceTwin: called synchronously per update, so it only bumps numbers. */
  readonly twinObserver: TwinObserver = {
    update: (outcome, origin, code = '') => {
      let row = this.updates.get(code);
      if (row === undefined) this.updates.set(code, (row = cells()));
      row[outcome][origin]++;
    },
    ack: (state, ageMs) => {
      this.acks[state]++;
      if (state !== 'pending') this.m.ackSeconds.observe({ state }, ageMs / 1000);
    },
    mapperConflict: (device) => {
      this.conflicts.set(device, (this.conflicts.get(device) ?? 0) + 1);
    },
  };

  /** Passed to the store: one call per group commit. */
  readonly commitObserver: CommitObserver = (seconds, groups, error) => {
    this.m.commitSeconds.observe(seconds);
    this.m.commitGroup.observe(groups);
    if (error) this.commitFailures++;
    this.lastCommitError = error?.code;
  };

  /** Passed to the store: one call per history maintenance run. */
  readonly maintenanceObserver: MaintenanceObserver = (report, seconds) => {
    for (const action of MAINTENANCE_ACTIONS) this.maintained[action] += report[action];
    this.m.maintenanceSeconds.observe(seconds);
  };

  /**
   * Passed to the mapper runtime: one call per poll. Failed polls are counted (polls_total,
   * timeouts_total), not timed: a timeout would only record the deadline.
   */
  readonly pollObserver: PollObserver = (poll) => {
    if (poll.ok) this.m.pollSeconds.observe({ protocol: poll.protocol }, poll.seconds);
  };

  /** Passed to the DMI edge: counters and histogram observations, nothing else. */
  readonly dmiObserver: DmiObserver = {
    served: (call) => {
      const key = `${call.method}\u0000${call.code}`;
      this.dmiServed.set(key, (this.dmiServed.get(key) ?? 0) + 1);
      this.m.dmiRequestSeconds.observe({ method: call.method }, call.seconds);
    },
    called: (call) => {
      const key = `${call.protocol}\u0000${call.method}\u0000${call.status}`;
      this.dmiCalled.set(key, (this.dmiCalled.get(key) ?? 0) + 1);
      this.m.dmiCallSeconds.observe({ method: call.method }, call.seconds);
    },
    refused: (protocol, code) => {
      const key = `${protocol}\u0000${code}`;
      this.dmiRefused.set(key, (this.dmiRefused.get(key) ?? 0) + 1);
    },
  };

  /** The code of the last store commit if it failed (for /readyz), else undefined. */
  get storeFailing(): string | undefined {
    return this.lastCommitError;
  }

  /** Reads every scrape-time value into the registry. */
  refresh(now = Date.now()): void {
    const { m } = this;
    m.updates.reset();
    for (const [code, row] of this.updates) {
      for (const outcome of OUTCOMES) for (const origin of ORIGINS) if (row[outcome][origin] > 0) m.updates.inc({ outcome, origin, code }, row[outcome][origin]);
    }
    m.acks.reset();
    for (const state of ACKS) m.acks.inc({ state }, this.acks[state]);
    m.commitFailures.reset();
    m.commitFailures.inc(this.commitFailures);
    m.conflicts.reset();
    for (const [device, n] of this.conflicts) m.conflicts.inc({ device }, n);
    m.maintainedRows.reset();
    for (const action of MAINTENANCE_ACTIONS) m.maintainedRows.inc({ action }, this.maintained[action]);
    this.refreshTwins(now);
    this.refreshMappers();
    this.refreshBroker();
    this.refreshCloud(now);
    this.refreshDmi();
  }

  /** The text exposition: this registry's series, then the process's (see processRegistry). */
  async render(): Promise<string> {
    this.refresh();
    await this.refreshHistory();
    return `${await this.registry.metrics()}\n${await processRegistry().metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** One pass over every twin: 15–25 ms per 100k devices × 5 properties, once per scrape, never per message. */
  private refreshTwins(now: number): void {
    const twin = this.sources.twin();
    const devices: Record<DeviceStateName, number> = { online: 0, offline: 0, ok: 0, unknown: 0, unhealthy: 0 };
    const desired: Record<AckState, number> = { pending: 0, applied: 0, rejected: 0, failed: 0 };
    let properties = 0;
    let deltas = 0;
    let oldest = Infinity;
    for (const { state } of twin?.list() ?? []) {
      devices[state.state]++;
      for (const key in state.twins) {
        const t = state.twins[key];
        if (t === undefined || t.type === 'deleted') continue;
        properties++;
        if (t.expected === undefined || t.expected.value === '') continue;
        desired[t.ack?.state ?? 'pending']++;
        if (t.actual?.value !== t.expected.value) {
          deltas++;
          if (t.expected.timestamp < oldest) oldest = t.expected.timestamp;
        }
      }
    }
    for (const state of DEVICE_STATES) this.m.devices.set({ state }, devices[state]);
    for (const ack of ACKS) this.m.desired.set({ ack }, desired[ack]);
    this.m.properties.set(properties);
    this.m.deltas.set(deltas);
    this.m.deltaAge.set(deltas > 0 ? Math.max(0, now - oldest) / 1000 : 0);
  }

  /** A few hundred rows of per-hour counters summed in SQLite (never a scan of the history). */
  private async refreshHistory(): Promise<void> {
    const stats = await this.sources.twin()?.historyStats().catch(() => undefined);
    for (const tier of HISTORY_TIERS) {
      this.m.historyRows.set({ tier }, stats?.tiers[tier].rows ?? 0);
      this.m.historyBytes.set({ tier }, stats?.tiers[tier].bytes ?? 0);
    }
  }

  private refreshMappers(): void {
    const { m } = this;
    for (const metric of [m.polls, m.timeouts, m.reconnects, m.up, m.queue]) metric.reset();
    for (const s of this.sources.mappers()) {
      const labels = { device: s.id, protocol: s.protocol };
      m.polls.inc({ ...labels, outcome: 'ok' }, s.polls - s.pollFailures);
      m.polls.inc({ ...labels, outcome: 'failed' }, s.pollFailures);
      m.timeouts.inc(labels, s.timeouts);
      m.reconnects.inc(labels, s.reconnects);
      m.up.set(labels, s.availability === 'online' ? 1 : 0);
      m.queue.set(labels, s.queued);
    }
  }

  private refreshBroker(): void {
    const { m } = this;
    const stats = this.sources.broker();
    const auth = this.sources.auth?.();
    m.clients.set(stats?.clients ?? 0);
    m.inflight.set(stats?.inflight ?? 0);
    m.pending.set(stats?.pendingConnections ?? 0);
    m.retained.set(stats?.retainedMessages ?? 0);
    m.retainedBytes.set(stats?.retainedBytes ?? 0);
    for (const [metric, value] of [
      [m.received, stats?.messagesIn],
      [m.sent, stats?.messagesOut],
      [m.ingestFailures, stats?.ingestFailures],
      [m.unacknowledged, stats?.unacknowledged],
      [m.denied, stats?.denied],
      [m.refused, stats?.refused],
      [m.inflightExceeded, stats?.inflightExceeded],
      [m.retainCleared, stats?.retainCleared],
      [m.loginBackoffs, auth?.loginBackoffs],
      [m.clientIdRefused, auth?.clientIdRefused],
      [m.revoked, auth?.revoked],
      [m.oversized, stats?.packetsTooLarge],
      [m.violations, stats?.protocolViolations],
      [m.connectTimeouts, stats?.connectTimeouts],
      [m.connectEvictions, stats?.connectEvictions],
      [m.outgoingDropped, stats?.outgoingDropped],
      [m.slowClients, stats?.slowClientsDisconnected],
      [m.subsRefused, stats?.subscriptionsRefused],
      [m.retainedRefused, stats?.retainedRefused],
      [m.qos2Duplicates, stats?.qos2Duplicates],
      [m.logSuppressed, stats?.logLinesSuppressed],
    ] as const) {
      metric.reset();
      metric.inc(value ?? 0);
    }
    const external = this.sources.external?.();
    m.externalConnected.set(external?.connected ? 1 : 0);
    m.externalInflight.set(external?.inflight ?? 0);
    m.externalAcked.reset();
    m.externalAcked.inc(external?.acked ?? 0);
  }

  private refreshDmi(): void {
    const { m } = this;
    for (const metric of [m.dmiUp, m.dmiDevices, m.dmiPending, m.dmiCalls, m.dmiRequests, m.dmiRefusedDevices]) metric.reset();
    for (const s of this.sources.dmi?.()?.mappers ?? []) {
      m.dmiUp.set({ protocol: s.protocol }, s.reachable ? 1 : 0);
      m.dmiDevices.set({ protocol: s.protocol }, s.devices);
      m.dmiPending.set({ protocol: s.protocol }, s.pending);
    }
    for (const [key, n] of this.dmiCalled) {
      const [protocol = '', method = '', status = ''] = splitKey(key);
      m.dmiCalls.inc({ protocol, method, status }, n);
    }
    for (const [key, n] of this.dmiServed) {
      const [method = '', code = ''] = splitKey(key);
      m.dmiRequests.inc({ method, code }, n);
    }
    for (const [key, n] of this.dmiRefused) {
      const [protocol = '', code = ''] = splitKey(key);
      m.dmiRefusedDevices.inc({ protocol, code }, n);
    }
  }

  private refreshCloud(now: number): void {
    const { m } = this;
    const health = this.sources.cloudSync()?.health();
    const state = health?.state ?? 'off';
    for (const s of CLOUD_STATES) m.cloudState.set({ state: s }, s === state ? 1 : 0);
    const pending = health?.writer.pending ?? 0;
    m.outbox.set(pending);
    const since = health?.writer.oldestPendingAt ?? health?.writer.lastSuccessAt;
    m.lag.set(pending > 0 && since !== undefined ? Math.max(0, now - since) / 1000 : 0);
    m.apiCalls.reset();
    m.apiCalls.inc(health?.api.calls ?? 0);
    m.apiBytes.reset();
    m.apiBytes.inc(health?.api.bytes ?? 0);
  }
}

function splitKey(key: string): string[] {
  return key.split('\u0000');
}
