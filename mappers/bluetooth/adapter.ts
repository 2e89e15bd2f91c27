// Where the mapper's noble comes from. The mapper code is the same either way; only the binding
// beneath noble differs:
// - 'hci': the real `@abandonware/noble`, imported lazily. Its default entry opens an HCI socket
//   *at import time* and throws where the kernel has no Bluetooth (EAFNOSUPPORT) or the socket
//   binding was not built (MODULE_NOT_FOUND) — dependencies.md §5. That failure, and an adapter
//   that is not powered on, become EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE so the caller (and the
//   rest of edgetwin) keeps running.
// - 'simulated': noble built by `with-bindings` over a binding object, e.g. simulators/bluetooth.

import withBindings from '@abandonware/noble/with-bindings.js';
import { edgetwinError, type EdgetwinError } from '../../errors.js';
import type { NobleBinding, NobleCentral } from './noble.js';

export type AdapterKind = 'hci' | 'simulated';

export const DEFAULT_POWERED_ON_TIMEOUT_MS = 5_000;

export interface LoadNobleOptions {
  /** How long to wait for the adapter's first `stateChange` (default 5 s). */
  readonly poweredOnTimeoutMs?: number;
}

export interface HciOptions extends LoadNobleOptions {
  /** Replaces `import('@abandonware/noble')`; tests inject the failures of a machine without Bluetooth. */
  readonly importNoble?: () => Promise<unknown>;
}

export interface SimulatedOptions extends LoadNobleOptions {
  readonly binding: NobleBinding;
}

function unavailable(message: string, cause?: unknown): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE', message, [], cause);
}

/** noble's typings do not describe the object it really is; check the members we call, once. */
function asNobleCentral(value: unknown): NobleCentral {
  const candidate = value as Partial<Record<keyof NobleCentral, unknown>> | null;
  const methods = ['startScanningAsync', 'stopScanning', 'on', 'removeListener'] as const;
  if (candidate === null || typeof candidate !== 'object' || methods.some((m) => typeof candidate[m] !== 'function')) {
    throw unavailable('the loaded module is not a noble central');
  }
  return candidate as NobleCentral;
}

/** A noble central over `binding` (synchronous; noble initialises the binding on first use). */
export function nobleFromBinding(binding: NobleBinding): NobleCentral {
  return asNobleCentral(withBindings(binding));
}

/**
 * Resolves once the adapter reports `poweredOn`; rejects with EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE
 * when it reports anything else or nothing within `timeoutMs`.
 */
export function waitPoweredOn(noble: NobleCentral, timeoutMs: number = DEFAULT_POWERED_ON_TIMEOUT_MS): Promise<void> {
  let state: string;
  try {
    // Reading `state` makes noble call the binding's init() if nothing has yet.
    state = noble.state;
  } catch (err) {
    return Promise.reject(unavailable(`the Bluetooth adapter failed to initialise: ${err instanceof Error ? err.message : String(err)}`, err));
  }
  if (state === 'poweredOn') return Promise.resolve();
  if (state !== 'unknown' && state !== 'resetting') return Promise.reject(unavailable(`the Bluetooth adapter is ${state}`));
  return new Promise((resolve, reject) => {
    const onState = (next: string): void => {
      if (next === 'resetting') return;
      cleanup();
      if (next === 'poweredOn') resolve();
      else reject(unavailable(`the Bluetooth adapter is ${next}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(unavailable(`the Bluetooth adapter did not power on within ${timeoutMs} ms (state ${noble.state})`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      noble.removeListener('stateChange', onState);
    };
    noble.on('stateChange', onState);
  });
}

async function importHci(importNoble: () => Promise<unknown>): Promise<NobleCentral> {
  let mod: unknown;
  try {
    mod = await importNoble();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Node appends the whole require stack to MODULE_NOT_FOUND; the first line says it all.
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw unavailable(
      `noble could not open the host's Bluetooth (${typeof code === 'string' ? `${code}: ` : ''}${why}); ` +
        'BLE devices stay offline. Use a simulated adapter, or run where the kernel has Bluetooth and the HCI socket binding is built',
      err,
    );
  }
  // noble is CommonJS: under ESM its module.exports (the singleton) is the default export.
  const exported = (mod as { default?: unknown } | null)?.default ?? mod;
  return asNobleCentral(exported);
}

/**
 * Loads a noble central and waits for its adapter to power on. Throws
 * EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE (never anything uncoded) when there is no usable adapter.
 */
export async function loadNoble(kind: 'hci', options?: HciOptions): Promise<NobleCentral>;
export async function loadNoble(kind: 'simulated', options: SimulatedOptions): Promise<NobleCentral>;
export async function loadNoble(kind: AdapterKind, options: HciOptions | SimulatedOptions = {}): Promise<NobleCentral> {
  let noble: NobleCentral;
  if (kind === 'simulated') {
    if (!('binding' in options)) throw unavailable("loadNoble('simulated') needs a binding");
    noble = nobleFromBinding(options.binding);
  } else {
    const importNoble = ('importNoble' in options ? options.importNoble : undefined) ?? (() => import('@abandonware/noble'));
    noble = await importHci(importNoble);
  }
  await waitPoweredOn(noble, options.poweredOnTimeoutMs);
  return noble;
}
