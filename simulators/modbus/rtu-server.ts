// Modbus RTU server for simulated units on a serial line (Modbus over Serial Line v1.02), for use
// on one end of a socat pty pair (pty.ts) or a real adapter. Our own rather than modbus-serial's
// ServerSerial so that faults (silence, delay, a corrupted CRC) can be injected per response.

import { Buffer } from 'node:buffer';
import { SerialPort } from 'serialport';
import { edgetwinError } from '../../errors.js';
import type { Parity } from '../../mappers/modbus/index.js';
import { crc16 } from './crc.js';
import { unitList, type ModbusSimulator } from './simulator.js';

export interface ModbusRtuServerOptions {
  readonly units: ModbusSimulator | readonly ModbusSimulator[];
  readonly path: string;
  /** Default 19200 (§2.5.1). */
  readonly baudRate?: number;
  readonly dataBits?: 5 | 6 | 7 | 8;
  readonly stopBits?: 1 | 2;
  /** Default even (§2.5.1). */
  readonly parity?: Parity;
  /**
   * Silence that ends a frame whose length cannot be told from its function code (§2.5.1.1
   * t3.5; a pty delivers in bursts, so a few ms rather than 3.5 character times). Default 5 ms.
   */
  readonly frameGapMs?: number;
}

/** The length of a request frame, from its first bytes; undefined if not known yet or ever. */
function requestLength(buf: Buffer): number | undefined {
  const fc = buf[1];
  if (fc === undefined) return undefined;
  if (fc >= 1 && fc <= 6) return 8; // address, fc, 2+2 bytes, CRC
  if (fc === 15 || fc === 16) {
    const byteCount = buf[6];
    return byteCount === undefined ? undefined : 9 + byteCount;
  }
  return undefined;
}

export class ModbusRtuServer {
  readonly #options: ModbusRtuServerOptions;
  readonly #units = new Map<number, ModbusSimulator>();
  #port: SerialPort | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #gapTimer: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** Frames dropped for a bad CRC; for tests. */
  badFrames = 0;

  constructor(options: ModbusRtuServerOptions) {
    this.#options = options;
    for (const unit of unitList(options.units)) this.#units.set(unit.unitId, unit);
  }

  async start(): Promise<void> {
    if (this.#port) return;
    const o = this.#options;
    const port = new SerialPort({
      path: o.path,
      baudRate: o.baudRate ?? 19200,
      dataBits: o.dataBits ?? 8,
      stopBits: o.stopBits ?? 1,
      parity: o.parity ?? 'even',
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve()))).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      throw edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `Modbus RTU simulator cannot open ${o.path}: ${reason}`, [], err);
    });
    // A serial line has no connection to lose; an error is logged by nobody and the port stays.
    port.on('error', () => undefined);
    port.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#port = port;
  }

  async close(): Promise<void> {
    clearTimeout(this.#gapTimer);
    const port = this.#port;
    this.#port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  #receive(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    clearTimeout(this.#gapTimer);
    for (;;) {
      const length = requestLength(this.#pending);
      if (length === undefined || this.#pending.length < length) break;
      const frame = this.#pending.subarray(0, length);
      this.#pending = this.#pending.subarray(length);
      this.#frame(frame);
    }
    if (this.#pending.length > 0) {
      this.#gapTimer = setTimeout(() => {
        const frame = this.#pending;
        this.#pending = Buffer.alloc(0);
        this.#frame(frame);
      }, this.#options.frameGapMs ?? 5);
    }
  }

  #frame(frame: Buffer): void {
    if (frame.length < 4 || crc16(frame.subarray(0, -2)) !== frame.readUInt16LE(frame.length - 2)) {
      // §2.5.1.2: a frame with a bad CRC is discarded; the master times out and retries.
      this.badFrames++;
      return;
    }
    const address = frame[0] ?? 0;
    const pdu = frame.subarray(1, -2);
    this.#queue = this.#queue.then(() => this.#serve(address, pdu)).catch(() => undefined);
  }

  async #serve(address: number, pdu: Buffer): Promise<void> {
    if (address === 0) {
      // §2.2: broadcast; every unit applies the write and none answers.
      for (const unit of this.#units.values()) await unit.handle(pdu);
      return;
    }
    const unit = this.#units.get(address);
    // Another device's frame on the bus: not ours to answer.
    if (!unit) return;
    const result = await unit.handle(pdu);
    const port = this.#port;
    if (result.kind !== 'reply' || !port) return;
    const out = Buffer.alloc(result.pdu.length + 3); // address + PDU + CRC
    out[0] = address;
    result.pdu.copy(out, 1);
    const crc = crc16(out.subarray(0, -2));
    out.writeUInt16LE(result.corruptCrc ? crc ^ 0xffff : crc, out.length - 2);
    port.write(out);
  }
}
