// What the broker lets a client put into its read side, checked on the raw bytes before
// mqtt-packet parses them.
//
// Sizes. aedes 1.2 has no packet-size option, and mqtt-packet 9's parser (which aedes creates
// without options) buffers a whole packet, up to the 256 MiB the remaining-length field allows
// [MQTT-2.2.3], before anything of ours runs: three sockets each announcing a 256 MiB CONNECT
// took the process from 113 to 399 MB. The scanner reads only the fixed headers [MQTT-2.2] as
// bytes stream past and reports a packet whose announced remaining length exceeds its type's
// limit before its body arrives; the first packet must be a CONNECT [MQTT-3.1.0-1], and it has
// the smallest limit, since it arrives before the client is authenticated.
//
// Order. aedes hands every packet of one socket read to its handlers at once (lib/client.js,
// enqueue), and its SUBSCRIBE handler awaits our (asynchronous) authorizeSubscribe before it
// adds the subscription, so an UNSUBSCRIBE read with it ran first and was lost; a PUBLISH
// right after a SUBSCRIBE could miss it too. MQTT requires them in order [MQTT-4.6.0] (3.1.1
// §4.6, "Message ordering"). So a CONNECT, SUBSCRIBE or UNSUBSCRIBE ends a read: the bytes
// after it are handed back to the socket and held there until the broker reports the packet
// handled (CONNACK, SUBACK or UNSUBACK sent). While they are held nothing more is read, so
// the kernel's receive window pushes back on the client: before authentication it can make
// the broker hold one CONNECT and a socket buffer, nothing more.

import type { Socket } from 'node:net';

/** What a scan found: all well so far, a packet over its limit, or a byte stream that is not MQTT. */
export type FrameVerdict = 'ok' | 'too-large' | 'malformed';

/** Largest remaining length (variable header + payload) per kind of packet. */
export interface FrameLimits {
  /** The CONNECT (will message included), read before the client is authenticated. */
  readonly connect: number;
  readonly publish: number;
  /** Every other packet type (SUBSCRIBE, UNSUBSCRIBE, acknowledgements, …). */
  readonly other: number;
}

export interface ScanResult {
  readonly verdict: FrameVerdict;
  /** The packet type (high nibble of its first byte) that failed, when verdict is not ok. */
  readonly type?: number;
  /** Its announced remaining length, when verdict is too-large. */
  readonly length?: number;
  /**
   * When set: the offset just past a CONNECT, SUBSCRIBE or UNSUBSCRIBE, where the scan
   * stopped. Bytes after it must wait until that packet has been handled.
   */
  readonly barrier?: number;
}

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
/** [MQTT-2.2.3]: the remaining length is at most four bytes. */
const MAX_LENGTH_BYTES = 4;
const OK: ScanResult = Object.freeze({ verdict: 'ok' });

/** Incremental fixed-header scanner: feed it every byte of the stream, in order. */
export class FrameScanner {
  private readonly limits: FrameLimits;
  private skip = 0; // body bytes of the current packet still to pass
  private inLength = false;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private type = 0;
  private packets = 0;

  constructor(limits: FrameLimits) {
    this.limits = limits;
  }

  /** Scans `chunk`; stops early at a violation or just past a barrier packet. */
  scan(chunk: Uint8Array): ScanResult {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - i);
        this.skip -= step;
        i += step;
        if (this.skip === 0 && isBarrier(this.type)) return { verdict: 'ok', barrier: i };
        continue;
      }
      const byte = chunk[i++] ?? 0;
      if (!this.inLength) {
        // First byte of a fixed header: the packet type is the high nibble.
        this.type = byte >> 4;
        // [MQTT-3.1.0-1] the first packet is a CONNECT; [MQTT-3.1.0-2] and only the first.
        if ((this.packets === 0) !== (this.type === CONNECT)) return { verdict: 'malformed', type: this.type };
        this.packets++;
        this.inLength = true;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes >= MAX_LENGTH_BYTES) return { verdict: 'malformed', type: this.type };
        continue;
      }
      this.inLength = false;
      if (this.length > this.limitOf(this.type)) return { verdict: 'too-large', type: this.type, length: this.length };
      this.skip = this.length;
      if (this.skip === 0 && isBarrier(this.type)) return { verdict: 'ok', barrier: i };
    }
    return OK;
  }

  private limitOf(type: number): number {
    if (type === CONNECT) return this.limits.connect;
    if (type === PUBLISH) return this.limits.publish;
    return this.limits.other;
  }
}

function isBarrier(type: number): boolean {
  return type === CONNECT || type === SUBSCRIBE || type === UNSUBSCRIBE;
}

/**
 * The remaining-length limit that lets every payload of up to `maxPayloadBytes` through whatever
 * its topic: topic length prefix (2) + the longest topic (65,535, [MQTT-1.5.3]) + packet id (2).
 * A payload a little over the limit therefore still reaches the ingest handler, which answers
 * it with EDGETWIN_ERR_PAYLOAD_TOO_LARGE; only a grossly oversized packet is cut off here.
 */
export function publishPacketLimit(maxPayloadBytes: number): number {
  return maxPayloadBytes + 2 + 65_535 + 2;
}

export interface InboundEvents {
  /** A packet over its limit or a stream that is not MQTT: the socket has been destroyed. */
  onViolation(result: ScanResult): void;
  /** The CONNECT has been read whole (not yet handled). */
  onConnect(): void;
}

/**
 * Watches what aedes reads from one socket: destroys it at the first packet over its limit
 * and holds the bytes after a barrier packet until release().
 *
 * aedes's Client consumes its connection only through `conn.read(null)` on 'readable' and when
 * a batch of packets is done (aedes 1.2 lib/client.js, nextBatch), so wrapping `read` on our
 * own socket sees every byte, with no copy and no extra stream hop (a Duplex wrapper would add
 * a hop on both paths and lose the cork/uncork batching of mqtt-packet's writeToStream). While
 * held, read() returns null without consuming, so the socket's buffer fills and Node stops
 * reading from the kernel. aedes reads again when the barrier packet's handler is done, which
 * is after the broker's release. If aedes ever reads another way the guard goes blind, and
 * broker-guard.test.ts fails.
 */
export class InboundGuard {
  private readonly socket: Socket;
  private readonly scanner: FrameScanner;
  private readonly events: InboundEvents;
  private held = false;
  private tripped = false;
  private connected = false;

  constructor(socket: Socket, limits: FrameLimits, events: InboundEvents) {
    this.socket = socket;
    this.scanner = new FrameScanner(limits);
    this.events = events;
  }

  install(): void {
    const socket = this.socket;
    const read = socket.read.bind(socket);
    socket.read = (size?: number): Buffer | null => {
      if (this.tripped || this.held) return null;
      // No encoding is ever set on a broker socket, so read() yields Buffers (or null).
      const chunk = read(size) as Buffer | null;
      if (chunk === null) return null;
      const result = this.scanner.scan(chunk);
      if (result.verdict !== 'ok') {
        this.tripped = true;
        socket.destroy();
        this.events.onViolation(result);
        return null;
      }
      if (result.barrier === undefined) return chunk;
      this.held = true;
      if (!this.connected) {
        this.connected = true;
        this.events.onConnect();
      }
      if (result.barrier < chunk.length) socket.unshift(chunk.subarray(result.barrier));
      return chunk.subarray(0, result.barrier);
    };
  }

  /** The barrier packet has been handled: what follows it may be read. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    // aedes reads on when the barrier's handler calls back, which is after this; should a
    // handler ever call back first, nothing would read the held bytes, so poke it once.
    setImmediate(() => {
      if (!this.held && !this.socket.destroyed && this.socket.readableLength > 0) this.socket.emit('readable');
    });
  }
}
