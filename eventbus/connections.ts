// Every socket the broker accepts, from its first byte to its close: the guards on both of its
// directions (frame-guard.ts, outbound.ts), the deadline for its CONNECT, and the two pools
// it is counted in. A socket is *pending* until its whole CONNECT has been read, then a
// *client*. Only clients count against maxConnections, so sockets that never send a CONNECT
// cannot lock real clients out; pending sockets have a pool of their own, as large, and when
// it is full the oldest is closed to make room (it has had the longest time to send one).

import type { Socket } from 'node:net';
import type { Aedes, Client } from 'aedes';
import type { Logger } from 'pino';
import { InboundGuard, type FrameLimits, type ScanResult } from './frame-guard.js';
import type { LogGate } from './log-fields.js';
import { OutboundGuard, type OutboundLimits, type OutboundTrip } from './outbound.js';

export interface ConnectionsOptions {
  readonly frames: FrameLimits;
  readonly outbound: OutboundLimits;
  readonly connectTimeoutMs: number;
  /** Pending sockets kept at most (the broker passes maxConnections). */
  readonly maxPending: number;
  readonly log: Logger;
  readonly logGate: LogGate;
}

interface Tracked {
  readonly socket: Socket;
  readonly inbound: InboundGuard;
  readonly outbound: OutboundGuard;
  phase: 'pending' | 'client' | 'closed';
  timer: NodeJS.Timeout | undefined;
  client?: Client;
}

const PACKET_NAMES = ['reserved', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'reserved'];

export class Connections {
  readonly counters = { packetsTooLarge: 0, protocolViolations: 0, connectTimeouts: 0, connectEvictions: 0, outgoingDropped: 0, slowClientsDisconnected: 0 };
  private readonly o: ConnectionsOptions;
  /** In order of arrival: the first is the oldest. */
  private readonly pending = new Map<Socket, Tracked>();
  private readonly all = new Set<Tracked>();
  private readonly byClient = new WeakMap<Client, Tracked>();
  private clientCount = 0;

  constructor(options: ConnectionsOptions) {
    this.o = options;
  }

  /** Sockets past their CONNECT: connected, or being authenticated. */
  get clients(): number {
    return this.clientCount;
  }

  /** Sockets that have not sent their whole CONNECT yet. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Guards `socket` and hands it to aedes. */
  accept(aedes: Aedes, socket: Socket): Client {
    if (this.pending.size >= this.o.maxPending) {
      const oldest = this.pending.values().next();
      if (!oldest.done) {
        this.counters.connectEvictions++;
        this.o.logGate.log(this.o.log, 'info', 'pending-pool', { code: 'EDGETWIN_ERR_CONNECT_TIMEOUT', remoteAddress: oldest.value.socket.remoteAddress, pending: this.pending.size }, 'closed a socket that has not sent CONNECT, to make room for a newer one');
        oldest.value.socket.destroy();
        this.drop(oldest.value);
      }
    }
    const t: Tracked = {
      socket,
      phase: 'pending',
      timer: undefined,
      inbound: new InboundGuard(socket, this.o.frames, {
        onViolation: (result) => this.violation(t, result),
        onConnect: () => this.connected(t),
      }),
      outbound: new OutboundGuard(socket, this.o.outbound, (reason, backlog) => this.slow(t, reason, backlog)),
    };
    this.pending.set(socket, t);
    this.all.add(t);
    t.inbound.install();
    t.outbound.install();
    t.timer = setTimeout(() => this.timedOut(t), this.o.connectTimeoutMs);
    socket.once('close', () => this.drop(t));
    const client = aedes.handle(socket);
    t.client = client;
    this.byClient.set(client, t);
    return client;
  }

  /** The packet that held the client's reads back (CONNECT, SUBSCRIBE, UNSUBSCRIBE) has been answered. */
  release(client: Client): void {
    this.byClient.get(client)?.inbound.release();
  }

  /** aedes's authorizeForward: false drops a QoS 0 message for a client whose socket is full. */
  admitForward(client: Client, qos: number): boolean {
    const t = this.byClient.get(client);
    if (!t || t.outbound.admit(qos)) return true;
    this.counters.outgoingDropped++;
    return false;
  }

  /** Closes every socket (the broker is closing); sockets that never sent CONNECT are not aedes clients. */
  destroyAll(): void {
    for (const t of this.all) {
      t.socket.destroy();
      this.drop(t);
    }
  }

  private connected(t: Tracked): void {
    if (t.phase !== 'pending') return;
    clearTimeout(t.timer);
    t.timer = undefined;
    this.pending.delete(t.socket);
    t.phase = 'client';
    this.clientCount++;
  }

  private drop(t: Tracked): void {
    if (t.phase === 'closed') return;
    clearTimeout(t.timer);
    t.timer = undefined;
    if (t.phase === 'client') this.clientCount--;
    this.pending.delete(t.socket);
    this.all.delete(t);
    t.phase = 'closed';
  }

  private timedOut(t: Tracked): void {
    t.timer = undefined;
    if (t.phase !== 'pending') return;
    this.counters.connectTimeouts++;
    const { remoteAddress } = t.socket;
    this.o.logGate.log(this.o.log, 'info', remoteAddress ?? '', { code: 'EDGETWIN_ERR_CONNECT_TIMEOUT', remoteAddress, timeoutMs: this.o.connectTimeoutMs }, 'no CONNECT in time; connection closed');
    t.socket.destroy();
    this.drop(t);
  }

  private violation(t: Tracked, result: ScanResult): void {
    const tooLarge = result.verdict === 'too-large';
    if (tooLarge) this.counters.packetsTooLarge++;
    else this.counters.protocolViolations++;
    const code = tooLarge ? 'EDGETWIN_ERR_PACKET_TOO_LARGE' : 'EDGETWIN_ERR_PROTOCOL_VIOLATION';
    const packet = PACKET_NAMES[result.type ?? 0];
    const fields = { code, verdict: result.verdict, packet, length: result.length, clientId: t.client?.id ?? undefined, remoteAddress: t.socket.remoteAddress };
    this.o.logGate.log(this.o.log, 'warn', t.client?.id ?? t.socket.remoteAddress ?? '', fields, tooLarge ? 'oversized packet; connection dropped before its body was read' : 'not an MQTT byte stream; connection dropped');
  }

  private slow(t: Tracked, reason: OutboundTrip, backlog: number): void {
    this.counters.slowClientsDisconnected++;
    const id = t.client?.id ?? undefined;
    const { maxBytes, stallMs } = this.o.outbound;
    const why = reason === 'backlog' ? `more than ${maxBytes} bytes (mqtt.limits.maxOutgoingBytesPerClient)` : `over half of ${maxBytes} bytes for more than ${stallMs} ms (mqtt.limits.outgoingStallMs)`;
    this.o.logGate.log(this.o.log, 'warn', id ?? t.socket.remoteAddress ?? '', { code: 'EDGETWIN_ERR_LIMIT_OUTGOING', clientId: id, remoteAddress: t.socket.remoteAddress, reason, backlog }, `client left ${why} unread; disconnected`);
  }
}
