// One simulated BLE peripheral built from a Device manifest and its model: its GATT table (a
// service per visitor `serviceUUID`, a characteristic per `characteristicUUID`), the property
// values behind it (encoded with the mapper's own codec), their evolution, and the faults tests
// inject. It talks to noble only through its SimulatedBinding (binding.ts).

import { EventEmitter } from 'eventemitter3';
import { compileCodec, locationOf, normalizeAddress, parseProtocolConfig, parseVisitorConfig, type BleCodec } from '../../mappers/bluetooth/index.js';
import type { DeviceInstance, DeviceModel, PropertyModel, PropertyValue } from '../../schemas/index.js';

/** Where a visitor names no serviceUUID: a vendor-range 16-bit service. */
export const DEFAULT_SERVICE = 'ffe0';
/** Generic Access (Core v5.4 Vol 3 Part C §12): every real device has it; noble lists it too. */
const GAP_SERVICE = '1800';
const DEVICE_NAME = '2a00';

export interface SimulatedField {
  readonly property: string;
  readonly model: PropertyModel;
  readonly codec: BleCodec;
}

export interface SimulatedCharacteristic {
  readonly service: string;
  readonly uuid: string;
  /** GATT properties as discovered ('read', 'write', 'writeWithoutResponse', 'notify'). */
  properties: readonly string[];
  readonly fields: readonly SimulatedField[];
  value: Buffer;
  /** The central enabled notifications (reset on every disconnect, as for an unbonded client). */
  notifying: boolean;
}

export type ReadFault = 'none' | 'error' | 'silent';

/** What the binding needs from its host to act for a peripheral. */
export interface PeripheralHost {
  /** Drops the peripheral's link, if any (the binding emits `disconnect`). */
  dropLink(peripheral: SimulatedPeripheral, reason: number): void;
  /** Sends a notification for a characteristic whose notifications are on. */
  sendNotification(peripheral: SimulatedPeripheral, characteristic: SimulatedCharacteristic): void;
  /** Advertising resumed: complete connects that were waiting for it. */
  advertisingResumed(peripheral: SimulatedPeripheral): void;
}

export interface SimulatedWrite {
  readonly characteristic: string;
  readonly data: Buffer;
  /** The properties whose decoded values the write changed. */
  readonly properties: readonly string[];
}

export interface SimulatedPeripheralEvents {
  write: [SimulatedWrite];
  connect: [];
  disconnect: [];
  subscribe: [{ readonly characteristic: string; readonly enabled: boolean }];
  notify: [{ readonly characteristic: string; readonly data: Buffer }];
}

function initialValue(model: PropertyModel, desired: string | undefined): PropertyValue {
  // The desired value, else the schema's default, else its first enum value, else a neutral one.
  const { default: fallback, enum: choices } = model.schema as { default?: unknown; enum?: unknown };
  const first = Array.isArray(choices) ? (choices as unknown[])[0] : undefined;
  for (const candidate of [desired, fallback, first]) {
    if (candidate === undefined) continue;
    const checked = typeof candidate === 'string' ? model.parse(candidate) : model.check(candidate as PropertyValue);
    if (checked.ok) return checked.value;
  }
  switch (model.type) {
    case 'boolean': return false;
    case 'string': return '';
    case 'bytes': return new Uint8Array(0);
    default: {
      const mid = ((model.minimum ?? 0) + (model.maximum ?? 100)) / 2;
      return model.type === 'int' ? Math.round(mid) : mid;
    }
  }
}

export class SimulatedPeripheral extends EventEmitter<SimulatedPeripheralEvents> {
  /** noble's id: the address without colons (as its HCI binding makes it). */
  readonly id: string;
  readonly address: string;
  readonly localName: string;
  readonly device: DeviceInstance;
  readonly characteristics: readonly SimulatedCharacteristic[];
  readonly #values = new Map<string, PropertyValue>();
  readonly #fields = new Map<string, { field: SimulatedField; characteristic: SimulatedCharacteristic }>();
  readonly #random: () => number;
  readonly #host: PeripheralHost;
  connected = false;
  advertising = true;
  refusing = false;
  readDelayMs = 0;
  readFault: ReadFault = 'none';
  writesFail = false;
  /** Counters tests assert on. */
  readonly stats = { connects: 0, connectAttempts: 0, reads: 0, writes: 0 };

  constructor(device: DeviceInstance, model: DeviceModel, host: PeripheralHost, random: () => number) {
    super();
    this.device = device;
    this.#host = host;
    this.#random = random;
    const target = parseProtocolConfig(device.protocol?.configData);
    this.address = normalizeAddress(target.address ?? `02:00:00:${(device.id.length % 256).toString(16).padStart(2, '0')}:00:01`);
    this.id = this.address.replaceAll(':', '');
    this.localName = target.localName ?? device.name;

    const byKey = new Map<string, { service: string; uuid: string; fields: SimulatedField[]; writable: boolean; readOnly: boolean }>();
    for (const p of device.properties) {
      const model_ = model.properties.get(p.name);
      if (!model_ || p.visitors?.protocolName !== 'bluetooth') continue;
      const visitor = parseVisitorConfig(p.visitors.configData, p.name);
      const location = locationOf(visitor);
      const service = location.service ?? DEFAULT_SERVICE;
      // KubeEdge's decimal-string decoding has no inverse: the simulator encodes such fields as
      // edgetwin does, which agrees with KubeEdge for single-byte selections.
      const codec = compileCodec({ ...visitor, kubeedgeCompat: false }, model_.type, p.name);
      const key = `${service}/${location.characteristic}`;
      const entry = byKey.get(key) ?? { service, uuid: location.characteristic, fields: [], writable: false, readOnly: false };
      entry.fields.push({ property: p.name, model: model_, codec });
      if (model_.readOnly) entry.readOnly = true;
      else entry.writable = true;
      byKey.set(key, entry);
      this.#values.set(p.name, initialValue(model_, p.desired?.value));
    }
    const characteristics: SimulatedCharacteristic[] = [
      { service: GAP_SERVICE, uuid: DEVICE_NAME, properties: ['read'], fields: [], value: Buffer.from(this.localName), notifying: false },
    ];
    for (const entry of byKey.values()) {
      const properties = ['read', ...(entry.readOnly ? ['notify'] : []), ...(entry.writable ? ['write', 'writeWithoutResponse'] : [])];
      const characteristic: SimulatedCharacteristic = { service: entry.service, uuid: entry.uuid, properties, fields: entry.fields, value: Buffer.alloc(0), notifying: false };
      for (const field of entry.fields) this.#fields.set(field.property, { field, characteristic });
      characteristic.value = this.#compose(characteristic);
      characteristics.push(characteristic);
    }
    this.characteristics = characteristics;
  }

  get services(): string[] {
    return [...new Set(this.characteristics.map((c) => c.service))];
  }

  find(service: string, uuid: string): SimulatedCharacteristic | undefined {
    return this.characteristics.find((c) => c.service === service && c.uuid === uuid);
  }

  /** The property's current value, decoded from the characteristic's bytes as the mapper would. */
  value(property: string): PropertyValue {
    const entry = this.#entry(property);
    return entry.field.codec.decode(entry.characteristic.value);
  }

  /** The property's value as a wire string in the model's canonical form. */
  wire(property: string): string {
    const entry = this.#entry(property);
    const checked = entry.field.model.check(this.value(property));
    if (!checked.ok) throw new Error(`${property}: ${checked.message}`);
    return checked.wire;
  }

  /** The characteristic's bytes behind a property. */
  bytes(property: string): Buffer {
    return Buffer.from(this.#entry(property).characteristic.value);
  }

  /** Sets a value as if the physical world changed it; notifies when notifications are on. */
  set(property: string, value: PropertyValue): void {
    const { characteristic } = this.#entry(property);
    this.#values.set(property, value);
    characteristic.value = this.#compose(characteristic);
    if (characteristic.notifying && this.connected) this.#host.sendNotification(this, characteristic);
  }

  /** One step of evolution: read-only numbers walk within the model's bounds; then notifications. */
  tick(): void {
    for (const { field, characteristic } of this.#fields.values()) {
      const { model } = field;
      const current = this.#values.get(field.property);
      if (!model.readOnly || typeof current !== 'number') continue;
      const min = model.minimum ?? 0;
      const max = model.maximum ?? 100;
      const step = (max - min) / 50;
      let next = Math.min(max, Math.max(min, current + (this.#random() * 2 - 1) * step));
      next = model.type === 'int' ? Math.round(next) : Math.round(next * 100) / 100;
      this.#values.set(field.property, next);
      characteristic.value = this.#compose(characteristic);
    }
    if (!this.connected) return;
    for (const characteristic of this.characteristics) if (characteristic.notifying) this.#host.sendNotification(this, characteristic);
  }

  /** Stores what a central wrote and updates the values it carries. */
  applyWrite(characteristic: SimulatedCharacteristic, data: Buffer): void {
    characteristic.value = Buffer.from(data);
    const changed: string[] = [];
    for (const field of characteristic.fields) {
      try {
        this.#values.set(field.property, field.codec.decode(data));
        changed.push(field.property);
      } catch {
        // Bytes this field cannot decode: its value stays as it was (and reads will show why).
      }
    }
    this.stats.writes++;
    this.emit('write', { characteristic: characteristic.uuid, data: Buffer.from(data), properties: changed });
  }

  /**
   * Changes the GATT properties of the characteristic behind `property`, e.g. ['notify'] for a
   * notify-only sensor; centrals see it on their next discovery.
   */
  setGattProperties(property: string, properties: readonly string[]): void {
    this.#entry(property).characteristic.properties = [...properties];
  }

  // Fault injection.
  /** Drops the link now (the central sees `disconnect`). */
  disconnect(): void {
    this.#host.dropLink(this, 0x08); // HCI: Connection Timeout
  }
  refuseConnections(on = true): void {
    this.refusing = on;
  }
  stopAdvertising(): void {
    this.advertising = false;
  }
  resumeAdvertising(): void {
    this.advertising = true;
    this.#host.advertisingResumed(this);
  }
  /** Every read answers after `ms`. */
  slowReads(ms: number): void {
    this.readDelayMs = ms;
  }
  /** 'error': answered as noble's HCI binding reports an ATT error (no bytes); 'silent': never answered. */
  failReads(mode: ReadFault | false = 'error'): void {
    this.readFault = mode === false ? 'none' : mode;
  }
  /** Writes are never acknowledged (noble's HCI binding never answers a write that failed). */
  failWrites(on = true): void {
    this.writesFail = on;
  }

  #entry(property: string): { field: SimulatedField; characteristic: SimulatedCharacteristic } {
    const entry = this.#fields.get(property);
    if (!entry) throw new Error(`${this.device.id} has no Bluetooth property "${property}"`);
    return entry;
  }

  /** The characteristic value: its current bytes, with every field written at its place. */
  #compose(characteristic: SimulatedCharacteristic): Buffer {
    const parts = characteristic.fields.map((f) => f.codec.encodeField(this.#values.get(f.property) as PropertyValue));
    const length = Math.max(0, ...parts.map((p) => p.at + p.bytes.length));
    // String and bytes fields set the length; fixed-width fields keep the bytes around them.
    const textual = characteristic.fields.some((f) => f.model.type === 'string' || f.model.type === 'bytes');
    const out = Buffer.alloc(textual ? length : Math.max(length, characteristic.value.length));
    if (!textual) characteristic.value.copy(out);
    for (const part of parts) out.set(part.bytes, part.at);
    return out;
  }
}
