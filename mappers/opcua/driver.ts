// The OPC UA DeviceDriver: a batch of properties is one Read service call (OPC 10000-4 §5.10.2,
// one ReadValueId per node), a write is one Write call, and properties whose visitor says
// `monitored: true` get monitored items in one subscription (OPC 10000-4 §5.12), re-created on
// every new session. Scheduling, retries, read-back and availability are the runtime's.

import { edgetwinError, isEdgetwinError, type EdgetwinError, type PropertyValue } from 'edgetwin';
import type { DataValue } from 'node-opcua';
import type { DeviceDriver, DriverProperty, DriverState, MapperContext, ReadResult, ValueSink } from 'edgetwin/sdk';
import type { Endpoint, OpcuaPoint } from './config.js';
import { builtinId, builtinName, decodeValue, encodeValue, type RawVariant } from './codec.js';
import { OpcuaLink, connectionError, race, type Connected, type LinkOptions, type Session } from './link.js';

interface DataValueLike {
  readonly statusCode: { readonly name: string; isGood(): boolean; isGoodish?(): boolean };
  readonly value: RawVariant;
}

/** Status codes that mean the session or channel is gone (OPC 10000-4 §7.39). */
const SESSION_GONE = new Set(['BadSessionIdInvalid', 'BadSessionClosed', 'BadSessionNotActivated', 'BadSecureChannelClosed', 'BadSecureChannelIdInvalid', 'BadConnectionClosed', 'BadServerHalted', 'BadCommunicationError']);
const NOT_WRITABLE = new Set(['BadNotWritable', 'BadUserAccessDenied', 'BadWriteNotSupported']);

interface Monitored {
  readonly property: string;
  readonly point: OpcuaPoint;
  readonly type: DriverProperty['model']['type'];
  readonly sink: ValueSink;
}

function failed(error: EdgetwinError): ReadResult {
  return { ok: false, error };
}

function statusError(deviceId: string, what: string, nodeId: string, status: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_OPCUA_STATUS', `${deviceId}: ${what} ${nodeId} answered ${status}`);
}

export interface DriverOptions {
  readonly pkiDir: string;
  readonly backoff: LinkOptions['backoff'];
}

export class OpcuaDriver implements DeviceDriver {
  readonly #id: string;
  readonly #endpoint: Endpoint;
  readonly #points: ReadonlyMap<string, OpcuaPoint>;
  readonly #link: OpcuaLink;
  readonly #ctx: MapperContext;
  readonly #monitored = new Set<Monitored>();
  /** Write types learnt from each node's value, per session generation. */
  #writeTypes = new Map<string, number>();
  #writeTypesGeneration = 0;
  #subscriptionGeneration = 0;
  #subscription: { terminate(): Promise<void> } | undefined;
  #everOpen = false;
  #closed = false;

  constructor(ctx: MapperContext, deviceId: string, endpoint: Endpoint, points: ReadonlyMap<string, OpcuaPoint>, o: DriverOptions) {
    this.#ctx = ctx;
    this.#id = deviceId;
    this.#endpoint = endpoint;
    this.#points = points;
    this.#link = new OpcuaLink({ deviceId, endpoint, pkiDir: o.pkiDir, logger: ctx.logger, backoff: o.backoff });
    this.#link.onOpen((c) => {
      this.#everOpen = true;
      if (this.#monitored.size > 0) void this.#createMonitoredItems(c);
    });
    this.#link.onLost(() => (this.#subscription = undefined));
  }

  get connects(): number {
    return this.#link.connects;
  }

  state(): DriverState {
    if (this.#link.open) return 'online';
    return this.#everOpen ? 'offline' : 'unknown';
  }

  #point(property: DriverProperty): OpcuaPoint {
    const point = this.#points.get(property.name);
    if (!point) throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `${this.#id}: property "${property.name}" has no OPC UA visitor (nodeID)`);
    return point;
  }

  #assertOpen(): void {
    if (this.#closed) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#id}: the OPC UA driver is closed`);
  }

  /** A service call on the session; a transport or session failure drops the session. */
  async #call<T>(c: Connected, work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
    try {
      return await race(work, signal, this.#endpoint.timeoutMs, what);
    } catch (err) {
      if (isEdgetwinError(err)) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const gone = [...SESSION_GONE].some((s) => message.includes(s)) || !this.#link.open;
      if (gone) this.#link.invalidate(c.session, message);
      throw connectionError(this.#id, this.#endpoint.url, `${what}: ${message}`, err);
    }
  }

  async read(properties: readonly DriverProperty[], signal: AbortSignal): Promise<readonly ReadResult[]> {
    this.#assertOpen();
    const points = properties.map((p) => this.#point(p));
    if (points.length === 0) return [];
    const c = await this.#link.session(signal);
    const nodes = points.map((p) => ({ nodeId: p.nodeId.text, attributeId: c.ua.AttributeIds.Value }));
    // One Read request for the whole batch; node-opcua sends an array as one ReadRequest.
    const values = (await this.#call(c, c.session.read(nodes, 0), signal, `reading ${nodes.length} node(s)`)) as unknown as readonly DataValueLike[];
    return properties.map((prop, i) => this.#decode(prop.model.type, points[i]!, values[i]));
  }

  #decode(type: DriverProperty['model']['type'], point: OpcuaPoint, dv: DataValueLike | undefined): ReadResult {
    if (!dv) return failed(edgetwinError('EDGETWIN_ERR_OPCUA_STATUS', `${this.#id}: no result for node ${point.nodeId.text}`));
    const good = dv.statusCode.isGoodish ? dv.statusCode.isGoodish() : dv.statusCode.isGood();
    if (!good) return failed(statusError(this.#id, 'reading node', point.nodeId.text, dv.statusCode.name));
    const value = decodeValue(dv.value, type, point.nodeId.text);
    return value instanceof Error ? failed(value) : { ok: true, value };
  }

  async write(property: DriverProperty, value: PropertyValue, signal: AbortSignal): Promise<void> {
    this.#assertOpen();
    const point = this.#point(property);
    const c = await this.#link.session(signal);
    const nodeId = point.nodeId.text;
    const dataType = point.dataType ? builtinId(point.dataType) : await this.#learnType(c, point, signal);
    const encoded = encodeValue(value, dataType, nodeId);
    if (encoded instanceof Error) throw encoded;
    const status = await this.#call(
      c,
      c.session.write({ nodeId, attributeId: c.ua.AttributeIds.Value, value: { value: new c.ua.Variant({ dataType: encoded.dataType, arrayType: c.ua.VariantArrayType.Scalar, value: encoded.value }) } }),
      signal,
      `writing node ${nodeId}`,
    );
    if (status.isGood()) return;
    if (NOT_WRITABLE.has(status.name)) {
      throw edgetwinError('EDGETWIN_ERR_PROPERTY_NOT_WRITABLE', `${this.#id}: property "${property.name}" (node ${nodeId}) is not writable: the server answered ${status.name}`);
    }
    if (status.name === 'BadTypeMismatch') {
      throw statusError(this.#id, `writing ${builtinName(dataType)} to node`, nodeId, `${status.name} (set the visitor's dataType to the node's type)`);
    }
    throw statusError(this.#id, 'writing node', nodeId, status.name);
  }

  /** The node's built-in type, from its current value (DataType may name a subtype such as Duration). */
  async #learnType(c: Connected, point: OpcuaPoint, signal: AbortSignal): Promise<number> {
    if (this.#writeTypesGeneration !== c.generation) {
      this.#writeTypes = new Map();
      this.#writeTypesGeneration = c.generation;
    }
    const nodeId = point.nodeId.text;
    const known = this.#writeTypes.get(nodeId);
    if (known !== undefined) return known;
    const dv = (await this.#call(c, c.session.read({ nodeId, attributeId: c.ua.AttributeIds.Value }), signal, `reading node ${nodeId}`)) as unknown as DataValueLike;
    if (!dv.statusCode.isGood()) throw statusError(this.#id, 'reading node', nodeId, dv.statusCode.name);
    if (dv.value.dataType === 0) {
      throw edgetwinError('EDGETWIN_ERR_OPCUA_VALUE', `${this.#id}: node ${nodeId} holds no value, so its type is unknown; set the visitor's dataType`);
    }
    this.#writeTypes.set(nodeId, dv.value.dataType);
    return dv.value.dataType;
  }

  /**
   * Monitored items for every property whose visitor says `monitored: true` (the others are left
   * to polling), kept across reconnects. Resolves even when the server is unreachable now.
   */
  async subscribe(properties: readonly DriverProperty[], sink: ValueSink): Promise<() => Promise<void>> {
    this.#assertOpen();
    const added: Monitored[] = [];
    for (const property of properties) {
      const point = this.#points.get(property.name);
      if (!point?.monitored) continue;
      const m: Monitored = { property: property.name, point, type: property.model.type, sink };
      this.#monitored.add(m);
      added.push(m);
    }
    if (added.length > 0) {
      this.#link.persistent = true;
      const ac = new AbortController();
      await this.#link.session(ac.signal).then(
        (c) => this.#createMonitoredItems(c),
        () => this.#link.kick(),
      );
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      for (const m of added) this.#monitored.delete(m);
      if (this.#monitored.size === 0) this.#link.persistent = false;
      const c = this.#link.open ? await this.#link.session().catch(() => undefined) : undefined;
      if (c) await this.#createMonitoredItems(c);
    };
  }

  /** (Re-)creates the subscription with one monitored item per monitored property. */
  async #createMonitoredItems(c: Connected): Promise<void> {
    const generation = ++this.#subscriptionGeneration;
    const old = this.#subscription;
    this.#subscription = undefined;
    await old?.terminate().catch(() => undefined);
    if (this.#monitored.size === 0 || this.#closed) return;
    const items = [...this.#monitored];
    const fastest = Math.max(10, Math.min(...items.map((m) => m.point.samplingInterval)));
    try {
      const sub = await c.session.createSubscription2({
        requestedPublishingInterval: fastest,
        requestedLifetimeCount: 600,
        requestedMaxKeepAliveCount: 20,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      });
      if (generation !== this.#subscriptionGeneration || this.#closed) {
        await sub.terminate().catch(() => undefined);
        return;
      }
      this.#subscription = sub;
      for (const m of items) {
        const item = await sub.monitor(
          { nodeId: m.point.nodeId.text, attributeId: c.ua.AttributeIds.Value },
          { samplingInterval: m.point.samplingInterval, discardOldest: true, queueSize: 1 },
          c.ua.TimestampsToReturn.Both,
        );
        item.on('changed', (dv: DataValue) => {
          if (this.#monitored.has(m)) m.sink(m.property, this.#decode(m.type, m.point, dv));
        });
        item.on('err', (message: string) => {
          if (this.#monitored.has(m)) m.sink(m.property, failed(statusError(this.#id, 'monitoring node', m.point.nodeId.text, message)));
        });
      }
    } catch (err) {
      this.#ctx.logger.debug({ err, device: this.#id }, 'OPC UA monitored items not created; retried with the next session');
      this.#link.invalidate(c.session, `creating monitored items: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#monitored.clear();
    this.#subscription = undefined;
    await this.#link.close();
  }
}

export type { Session };
