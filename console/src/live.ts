// The console's one WebSocket (/api/v1/ws) and the live state it feeds: device summaries, the
// twins and events of the devices seen, and the connection's state. The server pushes; the page
// never polls. A dropped socket is retried with exponential backoff and jitter (the shape of
// mappers/sdk/policy.ts backoffMs), and the page shows "reconnecting" meanwhile.

import { EventEmitter } from 'eventemitter3';
import type { ConsoleEvent, DeviceSummary, DeviceTwinState, ServerMessage } from './types';

export type LinkState = 'connecting' | 'live' | 'reconnecting';

interface LiveEvents {
  link: [LinkState];
  devices: [];
  change: [string];
  /** The socket opened again after a drop: pages reload what they show. */
  resync: [];
  /** The server refused the socket and the session is gone: log in again. */
  expired: [];
}

const BASE_MS = 500;
const MAX_MS = 15_000;

function backoff(attempt: number): number {
  const ms = Math.min(MAX_MS, BASE_MS * 2 ** attempt);
  return ms * (0.5 + Math.random() * 0.5);
}

class Live extends EventEmitter<LiveEvents> {
  link: LinkState = 'connecting';
  readonly devices = new Map<string, DeviceSummary>();
  readonly twins = new Map<string, DeviceTwinState>();
  readonly events = new Map<string, ConsoleEvent[]>();
  #ws: WebSocket | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  #opened = false;
  /** Asked before each retry: false ends the retries (the session expired). */
  sessionValid: () => Promise<boolean> = () => Promise.resolve(true);

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#ws?.close();
    this.#ws = undefined;
    this.#opened = false;
  }

  #setLink(state: LinkState): void {
    if (this.link === state) return;
    this.link = state;
    this.emit('link', state);
  }

  #connect(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    this.#ws = ws;
    ws.onopen = () => {
      const again = this.#opened;
      this.#opened = true;
      this.#attempt = 0;
      this.#setLink('live');
      if (again) this.emit('resync');
    };
    ws.onmessage = (ev: MessageEvent<string>) => this.#message(ev.data);
    ws.onclose = () => {
      if (this.#ws !== ws || this.#stopped) return;
      this.#ws = undefined;
      this.#setLink('reconnecting');
      const delay = backoff(this.#attempt++);
      this.#timer = setTimeout(() => {
        this.sessionValid().then(
          (valid) => {
            if (this.#stopped) return;
            if (valid) this.#connect();
            else {
              this.stop();
              this.emit('expired');
            }
          },
          // The server is not reachable yet: the socket's own failure schedules the next try.
          () => this.#stopped || this.#connect(),
        );
      }, delay);
    };
  }

  #message(data: string): void {
    let m: ServerMessage;
    try {
      m = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if (typeof m !== 'object' || m === null) return;
    if (m.type === 'devices') {
      this.devices.clear();
      for (const d of m.devices) this.devices.set(d.id, d);
      this.emit('devices');
    } else if (m.type === 'change') {
      this.devices.set(m.device.id, m.device);
      this.twins.set(m.device.id, m.twin);
      this.addEvents(m.device.id, m.events);
      this.emit('devices');
      this.emit('change', m.device.id);
    }
  }

  addEvents(id: string, events: readonly ConsoleEvent[], replace = false): void {
    const list = replace ? [] : (this.events.get(id) ?? []);
    list.push(...events);
    if (list.length > 100) list.splice(0, list.length - 100);
    this.events.set(id, list);
  }
}

export const live = new Live();
