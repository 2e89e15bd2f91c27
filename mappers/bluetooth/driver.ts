// The Bluetooth DeviceDriver: batched reads (one GATT read per characteristic, however many
// properties share it), writes through dataWrite or typed encoding, and notifications through
// subscribe(). Scheduling, retries and availability are the runtime's; the link (link.ts) owns
// connecting, backoff and keeping notifications alive across reconnects.

import { edgetwinError, isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { PropertyValue } from '../../schemas/index.js';
import type { DeviceDriver, DriverDevice, DriverProperty, DriverState, ReadResult, ValueSink } from '../sdk/types.js';
import { compileCodec, type BleCodec } from './codec.js';
import { locationKey, locationOf, type BleLocation, type BleProtocolConfig, type BleVisitorConfig } from './config.js';
import type { BleLink, Subscription } from './link.js';

/** One property, resolved once: where it lives and how its bytes read. */
interface Point {
  readonly location: BleLocation;
  readonly key: string;
  readonly codec: BleCodec;
  readonly textual: boolean;
}

export interface BluetoothDriverOptions {
  /** The device's link, possibly shared with other drivers for the same device. */
  readonly link: BleLink;
  /** Gives the link back (the last driver to do so closes it). */
  readonly release: () => Promise<void>;
}

/** Errors after which the rest of a batch cannot be read either: the link is gone. */
const LINK_CODES: ReadonlySet<string> = new Set([
  'EDGETWIN_ERR_BLE_DISCONNECTED',
  'EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE',
  'EDGETWIN_ERR_MAPPER_TIMEOUT',
  'EDGETWIN_ERR_MAPPER_ABORTED',
  'EDGETWIN_ERR_MAPPER_CONNECTION',
]);

const failed = (error: EdgetwinError): ReadResult => ({ ok: false, error });

/** A Bluetooth property: its visitor config typed from VISITOR_CONFIG_SCHEMA (config.ts). */
type BleProperty = DriverProperty<BleVisitorConfig>;

export class BluetoothDriver implements DeviceDriver<BleVisitorConfig> {
  readonly #device: DriverDevice<BleProtocolConfig, BleVisitorConfig>;
  readonly #link: BleLink;
  readonly #release: () => Promise<void>;
  readonly #points = new WeakMap<BleProperty, Point | EdgetwinError>();
  /** This driver's subscriptions, withdrawn from the (shared) link on close. */
  readonly #subs = new Set<Subscription>();
  #closed = false;

  constructor(device: DriverDevice<BleProtocolConfig, BleVisitorConfig>, options: BluetoothDriverOptions) {
    this.#device = device;
    this.#link = options.link;
    this.#release = options.release;
  }

  state(): DriverState {
    return this.#closed ? 'offline' : this.#link.state();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#link.forget([...this.#subs]);
    this.#subs.clear();
    await this.#release();
  }

  #assertOpen(): void {
    if (this.#closed) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#device.id}: the driver is closed`);
  }

  async read(properties: readonly BleProperty[], signal: AbortSignal): Promise<readonly ReadResult[]> {
    this.#assertOpen();
    const results = new Array<ReadResult | undefined>(properties.length);
    const byKey = new Map<string, number[]>();
    const points = properties.map((property, i) => {
      const point = this.#point(property);
      if (isEdgetwinError(point)) results[i] = failed(point);
      else byKey.set(point.key, [...(byKey.get(point.key) ?? []), i]);
      return point;
    });
    if (byKey.size === 0) return results.map((r) => r ?? failed(edgetwinError('EDGETWIN_ERR_INTERNAL', 'property left unread')));

    // The whole batch fails (rejects) when the device cannot be reached at all.
    const session = await this.#link.session(signal);
    let answered = 0;
    for (const [key, indexes] of byKey) {
      try {
        const data = await this.#link.read(session, key, signal);
        answered++;
        for (const i of indexes) results[i] = this.#decode(points[i] as Point, data);
      } catch (e) {
        const err = toEdgetwinError(e, 'EDGETWIN_ERR_BLE_GATT');
        if (LINK_CODES.has(err.code)) {
          if (answered === 0) throw err;
          for (const rest of byKey.values()) for (const i of rest) results[i] ??= failed(err);
          break;
        }
        answered++;
        for (const i of indexes) results[i] = failed(err);
      }
    }
    return results.map((r) => r ?? failed(edgetwinError('EDGETWIN_ERR_INTERNAL', 'property left unread')));
  }

  async write(property: BleProperty, value: PropertyValue, signal: AbortSignal): Promise<void> {
    this.#assertOpen();
    const point = this.#point(property);
    if (isEdgetwinError(point)) throw point;
    // Encode first: a value that cannot be written needs no connection to say so.
    const bytes = point.codec.encode(value);
    const session = await this.#link.session(signal);
    await this.#link.write(session, point.key, bytes, signal);
  }

  /**
   * Enables notifications for every property whose characteristic can notify or indicate (the
   * others are left to polling) and keeps them enabled across reconnects. Resolves even when the
   * device is unreachable now: the sink then gets the error, and values once it is back.
   */
  async subscribe(properties: readonly BleProperty[], sink: ValueSink): Promise<() => Promise<void>> {
    this.#assertOpen();
    const subs: Subscription[] = [];
    for (const property of properties) {
      const point = this.#point(property);
      if (isEdgetwinError(point)) {
        sink(property.name, failed(point));
        continue;
      }
      subs.push({
        property: property.name,
        key: point.key,
        deliver: (data) => sink(property.name, this.#decode(point, data)),
        report: (error) => sink(property.name, failed(error)),
      });
    }
    for (const sub of subs) this.#subs.add(sub);
    await this.#link.subscribe(subs);
    let done = false;
    return async () => {
      if (done || this.#closed) return;
      done = true;
      for (const sub of subs) this.#subs.delete(sub);
      await this.#link.unsubscribe(subs);
    };
  }

  #decode(point: Point, data: Buffer): ReadResult {
    // noble's HCI binding reports an ATT error response to a read as an empty value.
    if (data.length === 0 && !point.textual) {
      return failed(edgetwinError('EDGETWIN_ERR_BLE_GATT', `${this.#device.id}: characteristic ${point.key} answered with no bytes (a GATT error)`));
    }
    try {
      return { ok: true, value: point.codec.decode(data) };
    } catch (err) {
      return failed(toEdgetwinError(err, 'EDGETWIN_ERR_BLE_VALUE'));
    }
  }

  #point(property: BleProperty): Point | EdgetwinError {
    let point = this.#points.get(property);
    if (point === undefined) {
      try {
        const visitor = property.visitor;
        const location = locationOf(visitor);
        const type = property.model.type;
        point = { location, key: locationKey(location), codec: compileCodec(visitor, type, property.name), textual: type === 'string' || type === 'bytes' };
      } catch (err) {
        point = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG');
      }
      this.#points.set(property, point);
    }
    return point;
  }
}
