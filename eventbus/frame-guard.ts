// A transport-level cap on the size of an incoming MQTT PUBLISH packet.
//
// Why here: aedes 1.2 has no packet-size option, and mqtt-packet 9's parser (which aedes
// creates without options) has no maxPacketSize either: it buffers a whole packet, up to the
// 256 MiB the remaining-length field allows [MQTT-2.2.3], before handing it over. So a client
// can make the broker hold a quarter gigabyte per connection before any hook of ours runs.
// The scanner below reads only the fixed headers [MQTT-2.2] as bytes stream past and reports
// a PUBLISH whose announced remaining length exceeds the limit, before its body arrives.

import type { Socket } from 'node:net';

/** What a scan found: all well so far, an oversized PUBLISH, or a malformed length. */
export type FrameVerdict = 'ok' | 'too-large' | 'malformed';

const PUBLISH = 3;
/** [MQTT-2.2.3]: the remaining length is at most four bytes. */
const MAX_LENGTH_BYTES = 4;

/** Incremental fixed-header scanner: feed it every byte of the stream, in order. */
export class FrameScanner {
  private readonly limit: number;
  private skip = 0; // body bytes of the current packet still to pass
  private inLength = false;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private isPublish = false;

  /** `limit`: the largest remaining length (variable header + payload) a PUBLISH may have. */
  constructor(limit: number) {
    this.limit = limit;
  }

  scan(chunk: Uint8Array): FrameVerdict {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - i);
        this.skip -= step;
        i += step;
        continue;
      }
      const byte = chunk[i++] ?? 0;
      if (!this.inLength) {
        // First byte of a fixed header: the packet type is the high nibble.
        this.isPublish = byte >> 4 === PUBLISH;
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
        if (this.lengthBytes >= MAX_LENGTH_BYTES) return 'malformed';
        continue;
      }
      this.inLength = false;
      if (this.isPublish && this.length > this.limit) return 'too-large';
      this.skip = this.length;
    }
    return 'ok';
  }
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

/**
 * Watches what aedes reads from `socket` and destroys the socket at the first PUBLISH header
 * that announces more than `limit` bytes.
 *
 * aedes's Client consumes its connection only through `conn.read(null)` on 'readable'
 * (aedes 1.2 lib/client.js, nextBatch), so wrapping `read` on our own socket sees every byte,
 * with no copy and no extra stream hop. A Duplex wrapper would have added a hop on both paths
 * and lost the cork/uncork batching of mqtt-packet's writeToStream. If aedes ever reads another
 * way the guard goes blind, and broker.test.ts ("an oversized PUBLISH is cut off") fails.
 */
export function guardPublishFrames(socket: Socket, limit: number, onViolation: (verdict: FrameVerdict) => void): void {
  const scanner = new FrameScanner(limit);
  const read = socket.read.bind(socket);
  let tripped = false;
  socket.read = (size?: number): Buffer | null => {
    if (tripped) return null;
    // No encoding is ever set on a broker socket, so read() yields Buffers (or null).
    const chunk = read(size) as Buffer | null;
    if (chunk === null) return null;
    const verdict = scanner.scan(chunk);
    if (verdict === 'ok') return chunk;
    tripped = true;
    onViolation(verdict);
    socket.destroy();
    return null;
  };
}
