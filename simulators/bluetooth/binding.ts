// A noble binding (dependencies.md §5) that simulates a Bluetooth adapter and the peripherals in
// range. noble drives it exactly as it drives its HCI binding: methods in, events out. Every
// answer is emitted asynchronously, because noble registers its `once` listener after the call;
// every timer it starts is tracked and released by close().

import { EventEmitter } from 'node:events';
import type { AdapterState, NobleBinding } from '../../mappers/bluetooth/index.js';
import type { PeripheralHost, SimulatedCharacteristic, SimulatedPeripheral } from './peripheral.js';

// HCI error codes (Core v5.4 Vol 1 Part F) as noble's HCI binding reports them.
const CONNECTION_FAILED = 'Connection Failed to be Established';
const LOCAL_HOST_TERMINATED = 0x16;

export interface SimulatedBindingOptions {
  /** How often each advertising peripheral is reported while scanning (default 20 ms). */
  readonly advertisingIntervalMs?: number;
  /** Adapter state at init (default poweredOn). */
  readonly poweredOn?: boolean;
}

export class SimulatedBinding extends EventEmitter implements NobleBinding, PeripheralHost {
  readonly peripherals = new Map<string, SimulatedPeripheral>();
  readonly #pendingConnects = new Set<string>();
  readonly #immediates = new Set<NodeJS.Immediate>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #advertisingIntervalMs: number;
  #advertiser: NodeJS.Timeout | undefined;
  #state: AdapterState;
  #scanning = false;
  #closed = false;

  constructor(options: SimulatedBindingOptions = {}) {
    super();
    this.#advertisingIntervalMs = options.advertisingIntervalMs ?? 20;
    this.#state = options.poweredOn === false ? 'poweredOff' : 'poweredOn';
  }

  get state(): AdapterState {
    return this.#state;
  }

  get scanning(): boolean {
    return this.#scanning;
  }

  add(peripheral: SimulatedPeripheral): void {
    this.peripherals.set(peripheral.id, peripheral);
  }

  /** Fault injection: the adapter powers off (links drop, the scan stops) or back on. */
  setPowered(on: boolean): void {
    if (on === (this.#state === 'poweredOn')) return;
    if (!on) {
      this.#stopAdvertiser();
      if (this.#scanning) this.#later('scanStop');
      this.#scanning = false;
      for (const p of this.peripherals.values()) if (p.connected) this.dropLink(p, LOCAL_HOST_TERMINATED);
      this.#pendingConnects.clear();
    }
    this.#state = on ? 'poweredOn' : 'poweredOff';
    this.#later('stateChange', this.#state);
  }

  close(): void {
    this.#closed = true;
    this.#stopAdvertiser();
    for (const i of this.#immediates) clearImmediate(i);
    for (const t of this.#timers) clearTimeout(t);
    this.#immediates.clear();
    this.#timers.clear();
    this.#pendingConnects.clear();
    for (const p of this.peripherals.values()) p.connected = false;
  }

  // PeripheralHost
  dropLink(peripheral: SimulatedPeripheral, reason: number): void {
    if (!peripheral.connected) return;
    peripheral.connected = false;
    // A client that is not bonded starts every connection with notifications off (Core v5.4
    // Vol 3 Part G §3.3.3.3): the central must enable them again after reconnecting.
    for (const c of peripheral.characteristics) c.notifying = false;
    peripheral.emit('disconnect');
    this.#later('disconnect', peripheral.id, reason);
  }

  sendNotification(peripheral: SimulatedPeripheral, characteristic: SimulatedCharacteristic): void {
    const data = Buffer.from(characteristic.value);
    peripheral.emit('notify', { characteristic: characteristic.uuid, data });
    // A notification reaches noble as a `read` event with isNotification = true.
    this.#later('read', peripheral.id, characteristic.service, characteristic.uuid, data, true);
  }

  advertisingResumed(peripheral: SimulatedPeripheral): void {
    if (this.#pendingConnects.delete(peripheral.id)) this.#completeConnect(peripheral);
  }

  // NobleBinding: lifecycle and scanning
  init(): void {
    this.#later('addressChange', '02:ed:9e:70:00:00');
    this.#later('stateChange', this.#state);
  }

  setScanParameters(): void {
    this.#later('scanParametersSet');
  }

  startScanning(_serviceUuids?: readonly string[], allowDuplicates?: boolean): void {
    if (this.#state !== 'poweredOn') return;
    this.#scanning = true;
    this.#later('scanStart', allowDuplicates !== true);
    this.#advertise();
    if (!this.#advertiser) {
      this.#advertiser = setInterval(() => this.#advertise(), this.#advertisingIntervalMs);
      this.#advertiser.unref();
    }
  }

  stopScanning(): void {
    if (!this.#scanning) return;
    this.#scanning = false;
    this.#stopAdvertiser();
    this.#later('scanStop');
  }

  reset(): void {}

  // NobleBinding: connections
  connect(id: string): void {
    const p = this.peripherals.get(id);
    if (p) p.stats.connectAttempts++;
    if (!p || this.#state !== 'poweredOn' || p.refusing || p.connected) {
      this.#later('connect', id, new Error(p?.connected ? 'already connected' : CONNECTION_FAILED));
      return;
    }
    // A real controller keeps trying until the device advertises again (or the central cancels).
    if (!p.advertising) this.#pendingConnects.add(id);
    else this.#completeConnect(p);
  }

  cancelConnect(id: string): void {
    this.#pendingConnects.delete(id);
  }

  disconnect(id: string): void {
    const p = this.peripherals.get(id);
    if (p?.connected) this.dropLink(p, LOCAL_HOST_TERMINATED);
  }

  updateRssi(id: string): void {
    this.#later('rssiUpdate', id, -60);
  }

  // NobleBinding: GATT discovery. A peripheral that is not connected does not answer.
  discoverServices(id: string, uuids: readonly string[] = []): void {
    const p = this.#linked(id);
    if (p) this.#later('servicesDiscover', id, p.services.filter((s) => uuids.length === 0 || uuids.includes(s)));
  }

  discoverIncludedServices(id: string, service: string): void {
    if (this.#linked(id)) this.#later('includedServicesDiscover', id, service, []);
  }

  discoverCharacteristics(id: string, service: string, uuids: readonly string[] = []): void {
    const p = this.#linked(id);
    if (!p) return;
    const found = p.characteristics.filter((c) => c.service === service && (uuids.length === 0 || uuids.includes(c.uuid)));
    this.#later('characteristicsDiscover', id, service, found.map((c) => ({ uuid: c.uuid, properties: [...c.properties] })));
  }

  discoverDescriptors(id: string, service: string, characteristic: string): void {
    const c = this.#linked(id)?.find(service, characteristic);
    // 0x2902: the Client Characteristic Configuration descriptor of a notifying characteristic.
    if (c) this.#later('descriptorsDiscover', id, service, characteristic, c.properties.includes('notify') ? ['2902'] : []);
  }

  // NobleBinding: characteristic I/O
  read(id: string, service: string, characteristic: string): void {
    const p = this.#linked(id);
    const c = p?.find(service, characteristic);
    if (!p || !c || p.readFault === 'silent') return;
    p.stats.reads++;
    const answer = (): void => {
      // The link may have dropped while the answer was on its way.
      if (!p.connected) return;
      this.emit('read', id, service, characteristic, p.readFault === 'error' ? Buffer.alloc(0) : Buffer.from(c.value), false);
    };
    if (p.readDelayMs > 0) this.#after(p.readDelayMs, answer);
    else this.#soon(answer);
  }

  write(id: string, service: string, characteristic: string, data: Buffer): void {
    const p = this.#linked(id);
    const c = p?.find(service, characteristic);
    if (!p || !c || p.writesFail) return;
    p.applyWrite(c, data);
    this.#later('write', id, service, characteristic);
  }

  notify(id: string, service: string, characteristic: string, enable: boolean): void {
    const p = this.#linked(id);
    const c = p?.find(service, characteristic);
    if (!p || !c) return;
    c.notifying = enable && c.properties.includes('notify');
    p.emit('subscribe', { characteristic: c.uuid, enabled: c.notifying });
    this.#later('notify', id, service, characteristic, c.notifying);
  }

  broadcast(id: string, service: string, characteristic: string, enable: boolean): void {
    this.#later('broadcast', id, service, characteristic, enable);
  }

  readValue(id: string, service: string, characteristic: string, descriptor: string): void {
    this.#later('valueRead', id, service, characteristic, descriptor, Buffer.alloc(2));
  }

  writeValue(id: string, service: string, characteristic: string, descriptor: string): void {
    this.#later('valueWrite', id, service, characteristic, descriptor);
  }

  readHandle(id: string, handle: number): void {
    this.#later('handleRead', id, handle, Buffer.alloc(0));
  }

  writeHandle(id: string, handle: number): void {
    this.#later('handleWrite', id, handle);
  }

  #linked(id: string): SimulatedPeripheral | undefined {
    const p = this.peripherals.get(id);
    return p?.connected && this.#state === 'poweredOn' ? p : undefined;
  }

  #completeConnect(p: SimulatedPeripheral): void {
    p.connected = true;
    p.stats.connects++;
    p.emit('connect');
    this.#later('connect', p.id, null);
  }

  #advertise(): void {
    for (const p of this.peripherals.values()) {
      if (!p.advertising || p.connected || this.#state !== 'poweredOn') continue;
      const advertisement = { localName: p.localName, serviceUuids: p.services.filter((s) => s !== '1800'), serviceData: [], manufacturerData: undefined, txPowerLevel: undefined };
      // discover: id, address, addressType, connectable, advertisement, rssi, scannable
      this.#later('discover', p.id, p.address, 'public', true, advertisement, -60, true);
    }
  }

  #stopAdvertiser(): void {
    clearInterval(this.#advertiser);
    this.#advertiser = undefined;
  }

  #later(event: string, ...args: unknown[]): void {
    this.#soon(() => this.emit(event, ...args));
  }

  #soon(fn: () => void): void {
    if (this.#closed) return;
    const handle = setImmediate(() => {
      this.#immediates.delete(handle);
      fn();
    });
    this.#immediates.add(handle);
  }

  #after(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const handle = setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, ms);
    this.#timers.add(handle);
  }
}
