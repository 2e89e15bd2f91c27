// A bound on what the broker holds for one client that does not read its socket.
//
// Why: aedes writes a message to a subscriber inside mqemitter's delivery of that message
// (lib/client.js deliver0/deliverQoS → lib/write.js), and when the socket's write() returns
// false it calls back only on 'drain' (Client.waitForDrain), or after `drainTimeout` (60 s).
// mqemitter delivers at most `concurrency` (100) messages at once and waits for every
// subscriber's callback before it frees a slot (mqemitter 7, _do/released). So one client
// that stops reading — a hung app, a mapper scoped to one device — holds a slot per message
// sent its way, and after 100 of them no message reaches anyone, twin answers included, for
// up to a minute (aedes docs/Aedes.md, `concurrency` and `drainTimeout`).
//
// The guard makes write() report success while the client's backlog (Node's buffer on top of
// the kernel's, `writableLength`) is within its bound, so aedes never waits on one client;
// instead the broker decides per message: QoS 0 messages for a client whose backlog is over
// half the bound are dropped (QoS 0 is at most once [MQTT-4.3.1]) and counted; the other half
// is room for QoS 1 and 2 messages, which are never dropped. A client whose backlog passes
// the bound, or stays over half of it for `stallMs`, is disconnected with a logged code (its
// QoS 1 messages then wait in its session, if it has a persistent one).

import type { Socket } from 'node:net';

export interface OutboundLimits {
  /** Bytes written to the socket and not yet taken by the kernel, at most. */
  readonly maxBytes: number;
  /** How long a client may keep its backlog over half of maxBytes. */
  readonly stallMs: number;
  readonly now?: () => number;
}

export type OutboundTrip = 'backlog' | 'stalled';

export class OutboundGuard {
  private readonly socket: Socket;
  private readonly limits: OutboundLimits;
  private readonly now: () => number;
  private readonly onTrip: (reason: OutboundTrip, backlog: number) => void;
  private fullSince: number | undefined;
  private tripped = false;

  constructor(socket: Socket, limits: OutboundLimits, onTrip: (reason: OutboundTrip, backlog: number) => void) {
    this.socket = socket;
    this.limits = limits;
    this.now = limits.now ?? Date.now;
    this.onTrip = onTrip;
  }

  /** Wraps the socket's write(); call once, before aedes writes anything. */
  install(): void {
    const socket = this.socket;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    // write() has overloads (chunk, [encoding], [callback]); forward whatever aedes passes.
    const guarded = (...args: unknown[]): boolean => {
      write(...args);
      if (!this.tripped && socket.writableLength > this.limits.maxBytes) this.trip('backlog');
      // Never ask aedes to wait for 'drain' (see above): the bound is enforced here instead.
      return true;
    };
    socket.write = guarded;
  }

  /**
   * Whether a message of `qos` should be written now. False only for QoS 0 while the backlog
   * is over half the bound; a client that has stayed there for stallMs is disconnected.
   */
  admit(qos: number): boolean {
    if (this.tripped) return false;
    const backlog = this.socket.writableLength;
    if (backlog * 2 <= this.limits.maxBytes) {
      this.fullSince = undefined;
      return true;
    }
    const now = this.now();
    this.fullSince ??= now;
    if (now - this.fullSince > this.limits.stallMs) {
      this.trip('stalled');
      return false;
    }
    return qos > 0;
  }

  /** Bytes written and not yet taken by the kernel. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  private trip(reason: OutboundTrip): void {
    this.tripped = true;
    const backlog = this.socket.writableLength;
    // Destroyed now: what is still buffered is released, and later writes are discarded.
    this.socket.destroy();
    this.onTrip(reason, backlog);
  }
}
