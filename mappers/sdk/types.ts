// The mapper contract. Writing a mapper for a new protocol means implementing MapperFactory
// and DeviceDriver, nothing else: the runtime (runtime.ts) owns scheduling, the per-connection
// queue, change filtering, closed-loop writes, retries and availability.

import type { Logger } from 'pino';
import type { EdgetwinError } from '../../errors.js';
import type { DeviceInstance, DeviceModel, JsonSchema, PropertyInstance, PropertyModel, PropertyValue } from '../../schemas/index.js';

/** One property as a driver sees it: its model, its manifest entry and its validated visitor config. */
export interface DriverProperty<V = unknown> {
  readonly name: string;
  readonly model: PropertyModel;
  readonly instance: PropertyInstance;
  /** `visitors.configData`, validated against the factory's visitorConfigSchema. */
  readonly visitor: V;
}

/** A device as a driver sees it. */
export interface DriverDevice<P = unknown, V = unknown> {
  readonly id: string;
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  /** `spec.protocol.configData`, validated against the factory's protocolConfigSchema. */
  readonly protocol: P;
  readonly properties: readonly DriverProperty<V>[];
}

export type ReadResult =
  | { readonly ok: true; readonly value: PropertyValue }
  | { readonly ok: false; readonly error: EdgetwinError };

/** Pushed by drivers that can subscribe (e.g. BLE notifications). */
export type ValueSink = (property: string, result: ReadResult) => void;

export type DriverState = 'online' | 'offline' | 'unhealthy' | 'unknown';

export interface MapperContext {
  readonly logger: Logger;
  /** Injectable clock for tests (ms). */
  readonly now: () => number;
}

/**
 * A device's driver. `V` is its visitor config type: drivers made with defineMapper
 * (define.ts) get properties whose `visitor` is already parsed and typed from the schema.
 */
export interface DeviceDriver<V = unknown> {
  /**
   * Reads a batch of properties (one device) so a driver can coalesce them (Modbus: one
   * request per contiguous register run). Resolves with one result per property, in order;
   * a per-property failure is a result, not a rejection. Rejects only when the whole batch
   * failed (e.g. connection lost: EDGETWIN_ERR_MAPPER_CONNECTION). Must honour `signal`.
   */
  read(properties: readonly DriverProperty<V>[], signal: AbortSignal): Promise<readonly ReadResult[]>;
  /** Writes one value (already validated against the model). Rejects with a coded error. */
  write(property: DriverProperty<V>, value: PropertyValue, signal: AbortSignal): Promise<void>;
  /** Optional push: the driver calls `sink` on every new value; returns the unsubscribe function. */
  subscribe?(properties: readonly DriverProperty<V>[], sink: ValueSink): Promise<() => Promise<void>>;
  /** The driver's own view of the connection. */
  state(): DriverState;
  /** Connections opened so far (1 + reconnects), if the driver counts them: a metric per connection. */
  readonly connects?: number;
  /** Releases sockets and timers; idempotent. */
  close(): Promise<void>;
}

export interface MapperFactory<P = unknown, V = unknown> {
  /** Matches `spec.protocol.protocolName` (and `visitors.protocolName`). */
  readonly protocol: string;
  readonly protocolConfigSchema: JsonSchema;
  readonly visitorConfigSchema: JsonSchema;
  /**
   * Creates the driver for one device. Must not fail because the device is unreachable: the
   * driver connects lazily on first use and reconnects by itself after a drop.
   */
  connect(ctx: MapperContext, device: DriverDevice<P, V>): DeviceDriver<V>;
}

/** A device a simulator serves: its manifest entry and its model. */
export interface SimulatedDeviceInput {
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
}

/** Simulated devices being served; `close()` stops them (idempotent). */
export interface SimulatedDevices {
  /** One line for people: what is served where (e.g. `opcua on opc.tcp://127.0.0.1:4840`). */
  readonly description: string;
  /** Devices that could not be simulated (e.g. a port taken), each coded; the others are served. */
  readonly problems?: readonly EdgetwinError[];
  /**
   * For hardware simulated beneath the driver (a simulated radio under noble): the factory that
   * reaches it. Every device of the protocol is then mapped with this factory, not the plugin's.
   */
  readonly factory?: MapperFactory;
  close(): Promise<void>;
}

/** Where a simulator serves, when the caller overrides the devices' own protocol config. */
export interface SimulatorOptions {
  readonly host?: string;
  readonly port?: number;
  /** Seed of the simulated values, for reproducible runs. */
  readonly seed?: number;
}

/** Hardware stand-ins for tests and demos: serves devices where their protocol config says. */
export interface ProtocolSimulator {
  start(devices: readonly SimulatedDeviceInput[], ctx: MapperContext, options?: SimulatorOptions): Promise<SimulatedDevices>;
  /**
   * The simulated hardware sits beneath the driver (its result carries `factory`): `edgetwin
   * simulate <name>` then runs the mapper too, against `--broker`.
   */
  readonly beneathDriver?: boolean;
}

/**
 * What a protocol package gives edgetwin — a bundled protocol's registry entry and a plugin
 * package's default export alike: the mapper factory (its `protocol` is the protocol's name) and,
 * optionally, a simulator for `edgetwin simulate <name>` and the `simulate:` config list.
 */
export interface ProtocolPlugin<P = unknown, V = unknown> {
  readonly factory: MapperFactory<P, V>;
  readonly simulator?: ProtocolSimulator;
  /** One line for `edgetwin mapper --help` and the docs. */
  readonly description?: string;
}
