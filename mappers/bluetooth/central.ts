// One scanner per noble instance, shared by every device on that adapter. noble is a singleton
// per binding: two drivers starting and stopping the scan on their own would cut each other off,
// and `discover` events go to every listener. So the Central owns the scan (on while anyone is
// looking for a device, off when no one is), routes each advertisement to the finders waiting
// for that address or local name, and tells the links when the adapter's power state changes.

import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { waitPoweredOn } from './adapter.js';
import { abortReason, raceSignal } from './guard.js';
import { normalizeAddress, type NobleCentral, type NoblePeripheral } from './noble.js';

export interface ScanTarget {
  /** Normalised (lower case, colons). */
  readonly address?: string;
  readonly localName?: string;
}

interface Finder {
  readonly target: ScanTarget;
  found(peripheral: NoblePeripheral): void;
  fail(err: EdgetwinError): void;
}

type StateListener = (state: string) => void;

function unavailable(state: string): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE', `the Bluetooth adapter is ${state}`);
}

/** Hosts that hide addresses (macOS) report '' or 'unknown'; then only the local name can match. */
function matches(peripheral: NoblePeripheral, target: ScanTarget): boolean {
  const address = peripheral.address === '' || peripheral.address === 'unknown' ? undefined : normalizeAddress(peripheral.address);
  if (target.address !== undefined && address !== undefined) return address === target.address;
  return target.localName !== undefined && peripheral.advertisement.localName === target.localName;
}

export class Central {
  readonly noble: NobleCentral;
  readonly #finders = new Set<Finder>();
  readonly #stateListeners = new Set<StateListener>();
  #users = 0;
  #scanning = false;

  constructor(noble: NobleCentral) {
    this.noble = noble;
  }

  /** Counts a user (a link); the first one attaches the noble listeners. */
  acquire(): void {
    if (this.#users++ > 0) return;
    this.noble.on('discover', this.#onDiscover);
    this.noble.on('stateChange', this.#onStateChange);
    this.noble.on('scanStop', this.#onScanStop);
  }

  /** The last user detaches every listener and stops the scan. */
  release(): void {
    if (this.#users === 0 || --this.#users > 0) return;
    this.noble.removeListener('discover', this.#onDiscover);
    this.noble.removeListener('stateChange', this.#onStateChange);
    this.noble.removeListener('scanStop', this.#onScanStop);
    for (const finder of [...this.#finders]) finder.fail(edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', 'the Bluetooth mapper is closing'));
    this.#stopIfIdle();
  }

  /** Adapter power changes (`poweredOn`, `poweredOff`, …); returns the function that removes the listener. */
  onAdapterState(listener: StateListener): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /**
   * Resolves with the peripheral on the next advertisement from `target` seen after the call (a
   * fresh one: a device that stopped advertising is not "found" from memory). Rejects with
   * EDGETWIN_ERR_BLE_NOT_FOUND after `timeoutMs`, EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE when the
   * adapter is not powered on, or the signal's reason.
   */
  async find(target: ScanTarget, timeoutMs: number, signal?: AbortSignal): Promise<NoblePeripheral> {
    const who = target.address ?? `"${target.localName ?? '?'}"`;
    const state = this.noble.state;
    // A noble handed over before its binding reported (or while the adapter resets): wait for it.
    if (state === 'unknown' || state === 'resetting') await raceSignal(waitPoweredOn(this.noble, timeoutMs), signal, `scan for ${who}`);
    else if (state !== 'poweredOn') throw unavailable(state);
    if (signal?.aborted) throw abortReason(signal, `scan for ${who}`);
    return new Promise<NoblePeripheral>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#finders.delete(finder);
        this.#stopIfIdle();
      };
      const finder: Finder = {
        target,
        found: (peripheral) => {
          settle();
          resolve(peripheral);
        },
        fail: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = (): void => finder.fail(abortReason(signal as AbortSignal, `scan for ${who}`));
      const timer = setTimeout(() => {
        finder.fail(edgetwinError('EDGETWIN_ERR_BLE_NOT_FOUND', `${who} was not seen advertising within ${timeoutMs} ms`));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#finders.add(finder);
      this.#startScanning();
    });
  }

  #startScanning(): void {
    if (this.#scanning) return;
    this.#scanning = true;
    // allowDuplicates: every advertisement is reported, so "seen since I asked" means something.
    this.noble.startScanningAsync([], true).catch((err: unknown) => {
      this.#scanning = false;
      const why = err instanceof Error ? err.message : String(err);
      const coded = edgetwinError('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE', `could not start scanning: ${why}`, [], err);
      for (const finder of [...this.#finders]) finder.fail(coded);
    });
  }

  #stopIfIdle(): void {
    if (this.#finders.size > 0 || !this.#scanning) return;
    this.#scanning = false;
    this.noble.stopScanning();
  }

  readonly #onDiscover = (peripheral: NoblePeripheral): void => {
    for (const finder of [...this.#finders]) if (matches(peripheral, finder.target)) finder.found(peripheral);
  };

  // The adapter (or another user of the same noble) stopped the scan: resume it if anyone still waits.
  readonly #onScanStop = (): void => {
    this.#scanning = false;
    if (this.#finders.size > 0) this.#startScanning();
  };

  readonly #onStateChange = (state: string): void => {
    if (state !== 'poweredOn') {
      this.#scanning = false;
      for (const finder of [...this.#finders]) finder.fail(unavailable(state));
    }
    for (const listener of [...this.#stateListeners]) {
      try {
        listener(state);
      } catch {
        // One link's failure must not keep the others from hearing about the adapter.
      }
    }
  };
}

const centrals = new WeakMap<NobleCentral, Central>();

/** The Central of a noble instance: one per instance, however many mappers use it. */
export function centralFor(noble: NobleCentral): Central {
  let central = centrals.get(noble);
  if (!central) {
    central = new Central(noble);
    centrals.set(noble, central);
  }
  return central;
}
