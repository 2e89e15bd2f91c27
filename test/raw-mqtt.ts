// A hostile (or just exact) MQTT client on a raw socket: it writes the bytes a test builds with
// mqtt-packet, parses what the broker answers, and never does anything on its own (no
// keep-alive, no retries, no queueing until CONNACK), so a test controls every byte.

import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { within } from './async.js';

export class RawMqtt {
  readonly socket: Socket;
  readonly received: Packet[] = [];
  /** Resolves when the socket has closed (for whatever reason). */
  readonly closed: Promise<void>;
  private waiters: Array<{ match: (p: Packet) => boolean; resolve: (p: Packet) => void }> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      this.received.push(p);
      const ready = this.waiters.filter((w) => w.match(p));
      this.waiters = this.waiters.filter((w) => !w.match(p));
      for (const w of ready) w.resolve(p);
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Opens a TCP connection to `url` (mqtt://host:port) and sends nothing. */
  static async open(url: string): Promise<RawMqtt> {
    const { hostname, port } = new URL(url);
    const socket = netConnect(Number(port), hostname);
    const raw = new RawMqtt(socket);
    await within(new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    }), 5_000, 'TCP connect');
    return raw;
  }

  /** Opens, sends CONNECT (MQTT 3.1.1) and awaits a successful CONNACK. */
  static async connect(url: string, clientId: string, options: { clean?: boolean; username?: string } = {}): Promise<RawMqtt> {
    const raw = await RawMqtt.open(url);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: options.clean ?? true, clientId, keepalive: 0, ...(options.username !== undefined ? { username: options.username } : {}) });
    const connack = await raw.next('connack');
    if (connack.cmd !== 'connack' || connack.returnCode !== 0) throw new Error(`CONNACK ${JSON.stringify(connack)}`);
    return raw;
  }

  /** Writes packets in one socket write (so the broker reads them together). */
  send(...packets: Packet[]): void {
    this.socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p))));
  }

  /** The next packet (already received since `from`, or future) of kind `cmd` that matches. */
  next(cmd: Packet['cmd'], match: (p: Packet) => boolean = () => true, timeoutMs = 10_000, from = 0): Promise<Packet> {
    const test = (p: Packet): boolean => p.cmd === cmd && match(p);
    const earlier = this.received.slice(from).find(test);
    if (earlier) return Promise.resolve(earlier);
    return within(new Promise<Packet>((resolve) => this.waiters.push({ match: test, resolve })), timeoutMs, `a ${cmd}`);
  }

  /** PUBLISH packets received on `topic`, parsed as JSON. */
  messages(topic: string): Record<string, unknown>[] {
    return this.received.flatMap((p) => (p.cmd === 'publish' && p.topic === topic ? [JSON.parse(p.payload.toString()) as Record<string, unknown>] : []));
  }

  destroy(): void {
    this.socket.destroy();
  }
}
