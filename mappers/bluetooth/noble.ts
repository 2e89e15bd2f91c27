// The slice of noble's central API the Bluetooth mapper uses, as narrow local interfaces. noble's
// own typings are loose (`any` bindings, `Function` listeners, no `state` on the module) and the
// binding seam has none at all (types/noble-with-bindings.d.ts), so everything in this folder talks
// to these instead; adapter.ts is the one place a real noble object is narrowed to them.
//
// Also the binding contract a simulated adapter implements (dependencies.md §5), and the UUID and
// address spellings noble uses, so the mapper and a simulator normalise the same way.

import type { EventEmitter } from 'node:events';

/** noble's adapter states (`stateChange`); only `poweredOn` can scan or connect. */
export type AdapterState = 'unknown' | 'resetting' | 'unsupported' | 'unauthorized' | 'poweredOff' | 'poweredOn';

export type DataListener = (data: Buffer, isNotification: boolean) => void;

export interface NobleCharacteristic {
  /** Lower-case hex without dashes; 16-bit SIG UUIDs in their short form ('2a6e'). */
  readonly uuid: string;
  /** GATT properties: 'read', 'write', 'writeWithoutResponse', 'notify', 'indicate', … */
  readonly properties: readonly string[];
  readAsync(): Promise<Buffer>;
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
  unsubscribeAsync(): Promise<void>;
  on(event: 'data', listener: DataListener): unknown;
  removeListener(event: 'data', listener: DataListener): unknown;
}

export interface NobleService {
  readonly uuid: string;
  /** Filled in by characteristic discovery; null or undefined before. */
  readonly characteristics?: readonly NobleCharacteristic[] | null;
}

export interface NoblePeripheral {
  readonly id: string;
  /** Lower-case, colon-separated; '' or 'unknown' where the OS hides it (macOS). */
  readonly address: string;
  readonly advertisement: { readonly localName?: string | undefined };
  readonly state: string;
  connectAsync(): Promise<void>;
  cancelConnect(): void;
  disconnect(): void;
  discoverSomeServicesAndCharacteristicsAsync(
    serviceUUIDs: string[],
    characteristicUUIDs: string[],
  ): Promise<{ services: readonly NobleService[]; characteristics: readonly NobleCharacteristic[] }>;
  on(event: 'disconnect', listener: (reason?: unknown) => void): unknown;
  removeListener(event: 'disconnect', listener: (reason?: unknown) => void): unknown;
}

/** A noble instance (the module singleton, or `withBindings(binding)`). */
export interface NobleCentral {
  /** Reading it makes noble initialise its binding if it has not yet. */
  readonly state: string;
  startScanningAsync(serviceUUIDs?: string[], allowDuplicates?: boolean): Promise<void>;
  /** Fire-and-forget on purpose: noble's stopScanningAsync never settles before init. */
  stopScanning(): void;
  on(event: 'discover', listener: (peripheral: NoblePeripheral) => void): unknown;
  on(event: 'stateChange', listener: (state: string) => void): unknown;
  on(event: 'scanStop', listener: () => void): unknown;
  removeListener(event: 'discover', listener: (peripheral: NoblePeripheral) => void): unknown;
  removeListener(event: 'stateChange', listener: (state: string) => void): unknown;
  removeListener(event: 'scanStop', listener: () => void): unknown;
}

/**
 * What noble calls on a binding (dependencies.md §5). A binding is an EventEmitter that answers
 * each call with an event, emitted asynchronously: noble registers its `once` listener after the call.
 */
export interface NobleBinding extends EventEmitter {
  init(): void;
  setScanParameters(interval?: number, window?: number): void;
  startScanning(serviceUuids?: readonly string[], allowDuplicates?: boolean): void;
  stopScanning(): void;
  reset(): void;
  connect(id: string, parameters?: unknown): void;
  cancelConnect(id: string, parameters?: unknown): void;
  disconnect(id: string): void;
  updateRssi(id: string): void;
  discoverServices(id: string, uuids?: readonly string[]): void;
  discoverIncludedServices(id: string, service: string, uuids?: readonly string[]): void;
  discoverCharacteristics(id: string, service: string, uuids?: readonly string[]): void;
  discoverDescriptors(id: string, service: string, characteristic: string): void;
  read(id: string, service: string, characteristic: string): void;
  write(id: string, service: string, characteristic: string, data: Buffer, withoutResponse: boolean): void;
  notify(id: string, service: string, characteristic: string, enable: boolean): void;
  broadcast(id: string, service: string, characteristic: string, enable: boolean): void;
  readValue(id: string, service: string, characteristic: string, descriptor: string): void;
  writeValue(id: string, service: string, characteristic: string, descriptor: string, data: Buffer): void;
  readHandle(id: string, handle: number): void;
  writeHandle(id: string, handle: number, data: Buffer, withoutResponse: boolean): void;
}

// Bluetooth Core v5.4 Vol 3 Part B §2.5.1: a 16-bit UUID is xxxx in
// 0000xxxx-0000-1000-8000-00805F9B34FB. noble's HCI binding reports those in the short form.
const SIG_BASE = /^0000([0-9a-f]{4})00001000800000805f9b34fb$/;

/** '00002A6E-0000-1000-8000-00805F9B34FB' → '2a6e'; other UUIDs lower-case without dashes. */
export function normalizeUuid(uuid: string): string {
  const hex = uuid.replaceAll('-', '').toLowerCase();
  return SIG_BASE.exec(hex)?.[1] ?? hex;
}

/** 'A4-C1-38-00-00-01' or 'a4c138000001' → 'a4:c1:38:00:00:01' (noble's HCI spelling). */
export function normalizeAddress(address: string): string {
  const hex = address.replaceAll(/[-:]/g, '').toLowerCase();
  return hex.length === 12 ? (hex.match(/../g) ?? []).join(':') : address.toLowerCase();
}
