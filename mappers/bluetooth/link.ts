// One device's BLE link: find it (shared scan), connect, discover its characteristics, and keep
// its notifications alive. What it adds to noble:
// - every step has a deadline and honours AbortSignal (guard.ts), so nothing hangs;
// - a failed attempt (not advertising, refused, adapter off) is remembered: until its backoff
//   delay has passed, callers get the same coded error at once instead of a new scan;
// - a drop ends the session: in-flight requests reject with EDGETWIN_ERR_BLE_DISCONNECTED, the
//   next use reconnects, and when notifications are wanted the link reconnects by itself (with
//   backoff) and re-enables *every* notification on the new session's characteristic objects.
//   noble creates new Characteristic objects on each discovery, so listeners left on the old ones
//   go silent: the bug class peer gateways keep hitting.
// A peripheral takes one connection, and noble keeps one Peripheral object per device, so every
// driver for the same device (e.g. an old and a new one during an update) shares one link.

import type { Logger } from 'pino';
import { edgetwinError, isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { DriverState } from '../sdk/types.js';
import type { Central } from './central.js';
import { locationKey, type BleTarget } from './config.js';
import { Backoff, guard, raceSignal } from './guard.js';
import type { NobleCharacteristic, NoblePeripheral } from './noble.js';

export interface LinkOptions {
  /** For messages and logs: the device (the first one, when drivers share the link). */
  readonly deviceId: string;
  readonly target: BleTarget;
  /** Loads noble on first use; rejects with EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE. */
  readonly central: () => Promise<Central>;
  readonly logger: Logger;
  readonly now: () => number;
  readonly backoff: Backoff;
}

/** A wanted notification: the link calls `deliver` with each notified value, `report` on failure. */
export interface Subscription {
  readonly property: string;
  /** locationKey() of its characteristic. */
  readonly key: string;
  deliver(data: Buffer): void;
  report(err: EdgetwinError): void;
}

export interface Session {
  readonly peripheral: NoblePeripheral;
  /** By 'service/characteristic' and '*\/characteristic' (first service that has it). */
  readonly characteristics: ReadonlyMap<string, NobleCharacteristic>;
  /** Aborted, with the coded reason, when this session ends. */
  readonly lost: AbortSignal;
}

interface LiveSession extends Session {
  readonly controller: AbortController;
  readonly onDisconnect: () => void;
  readonly listening: Map<string, { readonly characteristic: NobleCharacteristic; readonly listener: (data: Buffer, isNotification: boolean) => void }>;
}

const notifiable = (c: NobleCharacteristic): boolean => c.properties.includes('notify') || c.properties.includes('indicate');

export class BleLink {
  readonly #o: LinkOptions;
  readonly #closing = new AbortController();
  readonly #subs = new Set<Subscription>();
  /** Last notified value per characteristic: what a read of a notify-only characteristic returns. */
  readonly #lastNotified = new Map<string, Buffer>();
  #central: Central | undefined;
  #stopStateListener: (() => void) | undefined;
  #session: LiveSession | undefined;
  #attempt: Promise<LiveSession> | undefined;
  #lastError: EdgetwinError | undefined;
  #retryAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #state: DriverState = 'unknown';
  #closed = false;

  constructor(options: LinkOptions) {
    this.#o = options;
  }

  state(): DriverState {
    return this.#state;
  }

  get #who(): string {
    return `${this.#o.deviceId} (${this.#o.target.address ?? this.#o.target.localName ?? '?'})`;
  }

  /** The connected session, connecting first if needed. Rejects with a coded error. */
  session(signal?: AbortSignal): Promise<Session> {
    if (this.#closed) return Promise.reject(edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#who}: the driver is closed`));
    if (this.#session) return Promise.resolve(this.#session);
    if (!this.#attempt) {
      const wait = this.#retryAt - this.#o.now();
      if (this.#lastError && wait > 0) {
        const last = this.#lastError;
        return Promise.reject(edgetwinError(last.code, `${last.message} (next attempt in ${wait} ms)`, last.details, last));
      }
    }
    return raceSignal(this.#attempt ?? this.#startAttempt(), signal, `connect to ${this.#who}`);
  }

  /** Reads one characteristic on `session`. A timeout drops the link (see below). */
  async read(session: Session, key: string, signal: AbortSignal): Promise<Buffer> {
    const characteristic = this.#characteristic(session, key);
    if (!characteristic.properties.includes('read')) {
      // Notify-only characteristics (common on sensors) answer polls with their last notification.
      const last = this.#lastNotified.get(key);
      if (last) return last;
      throw edgetwinError('EDGETWIN_ERR_BLE_GATT', `${this.#who}: characteristic ${key} cannot be read and has not notified yet`);
    }
    return this.#request(session, characteristic.readAsync(), `read ${key} on ${this.#who}`, signal);
  }

  async write(session: Session, key: string, data: Uint8Array, signal: AbortSignal): Promise<void> {
    const characteristic = this.#characteristic(session, key);
    const withResponse = characteristic.properties.includes('write');
    if (!withResponse && !characteristic.properties.includes('writeWithoutResponse')) {
      throw edgetwinError('EDGETWIN_ERR_BLE_GATT', `${this.#who}: characteristic ${key} is not writable (${characteristic.properties.join(', ')})`);
    }
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.#request(session, characteristic.writeAsync(buffer, !withResponse), `write ${key} on ${this.#who}`, signal);
  }

  /** Registers notifications and enables them now if connected (else on the next connect). */
  async subscribe(subs: readonly Subscription[]): Promise<void> {
    for (const sub of subs) this.#subs.add(sub);
    let session: Session;
    try {
      session = await this.session(this.#closing.signal);
    } catch (err) {
      // Not reachable now: the reconnect loop (started by the failure) will enable them.
      for (const sub of subs) this.#tell(sub, toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONNECTION'));
      this.#scheduleReconnect(this.#retryAt - this.#o.now());
      return;
    }
    await this.#enable(session as LiveSession, subs);
  }

  /** Withdraws subscriptions without telling the device (a closing driver; the link may stay up for others). */
  forget(subs: readonly Subscription[]): void {
    for (const sub of subs) this.#subs.delete(sub);
  }

  async unsubscribe(subs: readonly Subscription[]): Promise<void> {
    for (const sub of subs) this.#subs.delete(sub);
    const session = this.#session;
    if (!session) return;
    const stillWanted = new Set([...this.#subs].map((s) => s.key));
    for (const key of new Set(subs.map((s) => s.key))) {
      const entry = session.listening.get(key);
      if (!entry || stillWanted.has(key)) continue;
      session.listening.delete(key);
      entry.characteristic.removeListener('data', entry.listener);
      // Best effort: a device that cannot answer is dropped anyway.
      await this.#request(session, entry.characteristic.unsubscribeAsync(), `unsubscribe ${key} on ${this.#who}`, this.#closing.signal).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#closing.abort(edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#who}: the driver is closing`));
    this.#subs.clear();
    await this.#attempt?.catch(() => undefined);
    const session = this.#session;
    if (session) {
      const gone = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(this.#o.target.requestTimeoutMs, 2_000));
        session.lost.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      this.#disconnect(session.peripheral);
      // Wait (briefly) for the disconnect, so a new driver for the same device finds it free.
      await gone;
      this.#end(session, edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#who}: the driver closed`));
    }
    this.#stopStateListener?.();
    this.#central?.release();
    this.#state = 'offline';
  }

  #characteristic(session: Session, key: string): NobleCharacteristic {
    const found = session.characteristics.get(key);
    if (!found) throw edgetwinError('EDGETWIN_ERR_BLE_GATT', `${this.#who} has no characteristic ${key}`);
    return found;
  }

  #request<T>(session: Session, op: Promise<T>, what: string, signal: AbortSignal): Promise<T> {
    return guard(op, {
      timeoutMs: this.#o.target.requestTimeoutMs,
      signals: [signal, this.#closing.signal, session.lost],
      what,
      // Core v5.4 Vol 3 Part F §3.3.3: after an ATT transaction times out no further ATT
      // requests may be sent on that bearer. Drop the link; the next use reconnects.
      onTimeout: () => this.#drop(session as LiveSession, `${what} timed out`),
      mapError: (err) => edgetwinError('EDGETWIN_ERR_BLE_GATT', `${what}: ${err instanceof Error ? err.message : String(err)}`, [], err),
    });
  }

  #startAttempt(): Promise<LiveSession> {
    const attempt = this.#connect().then(
      (session) => {
        this.#o.backoff.reset();
        this.#lastError = undefined;
        return session;
      },
      (err: unknown) => {
        const coded = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONNECTION');
        if (!this.#closed) {
          const delay = this.#o.backoff.next();
          this.#lastError = coded;
          this.#retryAt = this.#o.now() + delay;
          this.#state = 'offline';
          this.#o.logger.debug({ device: this.#o.deviceId, code: coded.code, retryInMs: delay }, coded.message);
          this.#scheduleReconnect(delay);
        }
        throw coded;
      },
    );
    this.#attempt = attempt;
    const clear = (): void => {
      if (this.#attempt === attempt) this.#attempt = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async #connect(): Promise<LiveSession> {
    const { target } = this.#o;
    const closing = this.#closing.signal;
    const central = await this.#useCentral();
    const peripheral = await central.find(target, target.scanTimeoutMs, closing);
    await guard(peripheral.connectAsync(), {
      timeoutMs: target.connectTimeoutMs,
      signals: [closing],
      what: `connect to ${this.#who}`,
      onTimeout: () => peripheral.cancelConnect(),
      onAbort: () => peripheral.cancelConnect(),
      mapError: (err) => edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `${this.#who} refused the connection: ${err instanceof Error ? err.message : String(err)}`, [], err),
    });
    const controller = new AbortController();
    const session: LiveSession = {
      peripheral,
      characteristics: new Map(),
      lost: controller.signal,
      controller,
      listening: new Map(),
      onDisconnect: () => this.#end(session, edgetwinError('EDGETWIN_ERR_BLE_DISCONNECTED', `${this.#who} disconnected`)),
    };
    peripheral.on('disconnect', session.onDisconnect);
    try {
      await this.#discover(session);
    } catch (err) {
      this.#drop(session, 'service discovery failed');
      throw err;
    }
    if (this.#closed || session.lost.aborted) {
      this.#drop(session, 'closed while connecting');
      throw session.lost.aborted ? (session.lost.reason as EdgetwinError) : edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#who}: the driver closed`);
    }
    this.#session = session;
    this.#state = 'online';
    this.#o.logger.debug({ device: this.#o.deviceId }, 'BLE connected');
    // Every wanted notification, on this session's characteristic objects.
    await this.#enable(session, [...this.#subs]);
    return session;
  }

  async #useCentral(): Promise<Central> {
    if (this.#central) return this.#central;
    // Loading noble waits for the adapter to power on; closing must not wait for that.
    const central = await raceSignal(this.#o.central(), this.#closing.signal, 'load the Bluetooth adapter');
    if (this.#closed) throw edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `${this.#who}: the driver closed`);
    this.#central = central;
    central.acquire();
    this.#stopStateListener = central.onAdapterState((state) => this.#onAdapterState(state));
    return central;
  }

  async #discover(session: LiveSession): Promise<void> {
    // Everything ([], []): asking for named services fails the whole discovery when one is
    // missing (one misconfigured property must not take the others down), and a driver that
    // joins a shared link later finds its characteristics without a second discovery — which
    // would replace noble's Characteristic objects under the listeners of the first.
    const { services } = await guard(session.peripheral.discoverSomeServicesAndCharacteristicsAsync([], []), {
      timeoutMs: this.#o.target.requestTimeoutMs,
      signals: [this.#closing.signal, session.lost],
      what: `discover services of ${this.#who}`,
      mapError: (err) => edgetwinError('EDGETWIN_ERR_BLE_GATT', `discover services of ${this.#who}: ${err instanceof Error ? err.message : String(err)}`, [], err),
    });
    const map = session.characteristics as Map<string, NobleCharacteristic>;
    for (const service of services) {
      for (const characteristic of service.characteristics ?? []) {
        map.set(locationKey({ service: service.uuid, characteristic: characteristic.uuid }), characteristic);
        const any = locationKey({ characteristic: characteristic.uuid });
        if (!map.has(any)) map.set(any, characteristic);
      }
    }
  }

  /** Enables notifications for `subs` on `session`; failures go to each subscription's report(). */
  async #enable(session: LiveSession, subs: readonly Subscription[]): Promise<void> {
    for (const key of new Set(subs.map((s) => s.key))) {
      if (session.listening.has(key) || session.lost.aborted) continue;
      const of = (k: string): Subscription[] => [...this.#subs].filter((s) => s.key === k);
      const characteristic = session.characteristics.get(key);
      if (!characteristic) {
        for (const sub of of(key)) this.#tell(sub, edgetwinError('EDGETWIN_ERR_BLE_GATT', `${this.#who} has no characteristic ${key}`));
        continue;
      }
      // Characteristics that cannot notify are left to polling.
      if (!notifiable(characteristic)) continue;
      const listener = (data: Buffer, isNotification: boolean): void => {
        // Read answers come through 'data' too; the read that asked for them reports those.
        if (!isNotification) return;
        this.#lastNotified.set(key, data);
        for (const sub of of(key)) this.#tell(sub, data);
      };
      characteristic.on('data', listener);
      session.listening.set(key, { characteristic, listener });
      try {
        await this.#request(session, characteristic.subscribeAsync(), `subscribe ${key} on ${this.#who}`, this.#closing.signal);
      } catch (err) {
        if (session.lost.aborted || this.#closed) return;
        characteristic.removeListener('data', listener);
        session.listening.delete(key);
        for (const sub of of(key)) this.#tell(sub, toEdgetwinError(err, 'EDGETWIN_ERR_BLE_GATT'));
      }
    }
  }

  /** Ends a session we give up on ourselves, and tells the device. */
  #drop(session: LiveSession, why: string): void {
    this.#end(session, edgetwinError('EDGETWIN_ERR_BLE_DISCONNECTED', `${this.#who}: link dropped (${why})`));
    this.#disconnect(session.peripheral);
  }

  #disconnect(peripheral: NoblePeripheral): void {
    try {
      peripheral.disconnect();
    } catch (err) {
      // noble's HCI binding throws for a handle it no longer knows: the link is gone either way.
      this.#o.logger.debug({ device: this.#o.deviceId, err }, 'BLE disconnect failed');
    }
  }

  /** Hands a value or an error to a subscriber; a sink that throws must not reach noble's emitter. */
  #tell(sub: Subscription, what: Buffer | EdgetwinError): void {
    try {
      if (Buffer.isBuffer(what)) sub.deliver(what);
      else sub.report(what);
    } catch (err) {
      this.#o.logger.warn({ device: this.#o.deviceId, property: sub.property, err }, 'a notification sink threw');
    }
  }

  #end(session: LiveSession, reason: EdgetwinError): void {
    if (session.lost.aborted) return;
    session.peripheral.removeListener('disconnect', session.onDisconnect);
    for (const { characteristic, listener } of session.listening.values()) characteristic.removeListener('data', listener);
    session.listening.clear();
    session.controller.abort(reason);
    if (this.#session !== session) return;
    this.#session = undefined;
    this.#lastNotified.clear();
    this.#state = 'offline';
    this.#o.logger.debug({ device: this.#o.deviceId, code: reason.code }, reason.message);
    // Reads reconnect on next use; notifications need the link back without anyone asking.
    this.#scheduleReconnect(this.#o.backoff.jittered(this.#o.backoff.initialMs));
  }

  #onAdapterState(state: string): void {
    if (state !== 'poweredOn') {
      if (this.#session) this.#end(this.#session, edgetwinError('EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE', `the Bluetooth adapter is ${state}`));
      return;
    }
    // Powered back on: an earlier "adapter unavailable" is stale.
    if (isEdgetwinError(this.#lastError, 'EDGETWIN_ERR_BLE_ADAPTER_UNAVAILABLE')) this.#retryAt = 0;
    this.#scheduleReconnect(0);
  }

  /** The reconnect loop; it runs only while notifications are wanted and the link is down. */
  #scheduleReconnect(delayMs: number): void {
    if (this.#closed || this.#subs.size === 0 || this.#session) return;
    const due = Date.now() + Math.max(0, delayMs);
    // A sooner reason (the adapter powered back on) replaces a later timer; a later one waits.
    if (this.#timer) {
      if (due >= this.#timerDue) return;
      clearTimeout(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed || this.#session || this.#subs.size === 0) return;
      if (this.#attempt) return; // its outcome schedules the next round
      // A failure is recorded and rescheduled by #startAttempt; nothing more to do with it here.
      this.#startAttempt().catch(() => undefined);
    }, Math.max(0, delayMs));
  }
}
