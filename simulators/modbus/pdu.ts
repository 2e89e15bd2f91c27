// A Modbus server's data model and PDU handling, transport-free: the TCP and RTU servers frame
// and unframe, this parses a request PDU, applies it to a register bank and builds the response
// PDU. Section numbers are the Modbus Application Protocol Specification v1.1b3's.

import { Buffer } from 'node:buffer';
import { MODBUS_LIMITS, type RegisterTable } from '../../mappers/modbus/index.js';

/** The four tables of a Modbus data model (§4.3), each 65,536 entries long. */
export class RegisterBank {
  readonly coils = new Uint8Array(65536);
  readonly discreteInputs = new Uint8Array(65536);
  readonly holdingRegisters = new Uint16Array(65536);
  readonly inputRegisters = new Uint16Array(65536);

  words(table: 'HoldingRegister' | 'InputRegister'): Uint16Array {
    return table === 'HoldingRegister' ? this.holdingRegisters : this.inputRegisters;
  }

  bits(table: 'CoilRegister' | 'DiscreteInputRegister'): Uint8Array {
    return table === 'CoilRegister' ? this.coils : this.discreteInputs;
  }
}

/** A parsed request: a read of `quantity` entries, or a write carrying its bits or words. */
export interface ModbusRequest {
  readonly fc: number;
  readonly table: RegisterTable;
  readonly address: number;
  readonly quantity: number;
  readonly bits?: readonly boolean[];
  readonly words?: readonly number[];
}

export type Parsed = { readonly ok: true; readonly request: ModbusRequest } | { readonly ok: false; readonly fc: number; readonly exception: number };

export const EXCEPTION = { illegalFunction: 1, illegalDataAddress: 2, illegalDataValue: 3, serverDeviceFailure: 4 } as const;

const READ_TABLES: Readonly<Record<number, RegisterTable>> = { 1: 'CoilRegister', 2: 'DiscreteInputRegister', 3: 'HoldingRegister', 4: 'InputRegister' };

function fail(fc: number, exception: number): Parsed {
  return { ok: false, fc, exception };
}

function unpackBits(bytes: Uint8Array, quantity: number): boolean[] {
  return Array.from({ length: quantity }, (_, i) => (((bytes[i >> 3] ?? 0) >> (i & 7)) & 1) === 1);
}

/**
 * Parses a request PDU (function code + data). Quantity and length errors give exception 03 and
 * address overflow exception 02, in the order of the state diagrams in §6.1-6.12.
 */
export function parseRequest(pdu: Uint8Array): Parsed {
  const fc = pdu[0] ?? 0;
  const data = Buffer.from(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  const u16 = (at: number): number => (data.length >= at + 2 ? data.readUInt16BE(at) : -1);
  const address = u16(1);
  const table = READ_TABLES[fc];
  if (table !== undefined) {
    // §6.1-6.4: quantity 1..2000 bits or 1..125 registers.
    const quantity = u16(3);
    const max = fc <= 2 ? MODBUS_LIMITS.readBits : MODBUS_LIMITS.readRegisters;
    if (data.length !== 5 || quantity < 1 || quantity > max) return fail(fc, EXCEPTION.illegalDataValue);
    if (address + quantity > 65536) return fail(fc, EXCEPTION.illegalDataAddress);
    return { ok: true, request: { fc, table, address, quantity } };
  }
  switch (fc) {
    case 5: {
      // §6.5: 0xFF00 is ON, 0x0000 OFF; anything else is exception 03.
      const value = u16(3);
      if (data.length !== 5 || (value !== 0xff00 && value !== 0)) return fail(fc, EXCEPTION.illegalDataValue);
      return { ok: true, request: { fc, table: 'CoilRegister', address, quantity: 1, bits: [value === 0xff00] } };
    }
    case 6:
      if (data.length !== 5) return fail(fc, EXCEPTION.illegalDataValue);
      return { ok: true, request: { fc, table: 'HoldingRegister', address, quantity: 1, words: [u16(3)] } };
    case 15: {
      // §6.11: quantity 1..1968 and byte count = ceil(quantity / 8).
      const quantity = u16(3);
      const byteCount = data[5] ?? -1;
      if (quantity < 1 || quantity > MODBUS_LIMITS.writeBits || byteCount !== Math.ceil(quantity / 8) || data.length !== 6 + byteCount) {
        return fail(fc, EXCEPTION.illegalDataValue);
      }
      if (address + quantity > 65536) return fail(fc, EXCEPTION.illegalDataAddress);
      return { ok: true, request: { fc, table: 'CoilRegister', address, quantity, bits: unpackBits(data.subarray(6), quantity) } };
    }
    case 16: {
      // §6.12: quantity 1..123 and byte count = 2 × quantity.
      const quantity = u16(3);
      const byteCount = data[5] ?? -1;
      if (quantity < 1 || quantity > MODBUS_LIMITS.writeRegisters || byteCount !== quantity * 2 || data.length !== 6 + byteCount) {
        return fail(fc, EXCEPTION.illegalDataValue);
      }
      if (address + quantity > 65536) return fail(fc, EXCEPTION.illegalDataAddress);
      const words = Array.from({ length: quantity }, (_, i) => data.readUInt16BE(6 + 2 * i));
      return { ok: true, request: { fc, table: 'HoldingRegister', address, quantity, words } };
    }
    default:
      return fail(fc, EXCEPTION.illegalFunction);
  }
}

/** §7: the exception response PDU. */
export function exceptionPdu(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

/** Applies a request to the bank and returns the response PDU. */
export function execute(bank: RegisterBank, req: ModbusRequest): Buffer {
  const { fc, address, quantity } = req;
  if (fc === 1 || fc === 2) {
    const bits = bank.bits(req.table as 'CoilRegister' | 'DiscreteInputRegister');
    const out = Buffer.alloc(2 + Math.ceil(quantity / 8));
    out[0] = fc;
    out[1] = out.length - 2;
    for (let i = 0; i < quantity; i++) if (bits[address + i]) out[2 + (i >> 3)] = (out[2 + (i >> 3)] ?? 0) | (1 << (i & 7));
    return out;
  }
  if (fc === 3 || fc === 4) {
    const words = bank.words(req.table as 'HoldingRegister' | 'InputRegister');
    const out = Buffer.alloc(2 + quantity * 2);
    out[0] = fc;
    out[1] = quantity * 2;
    for (let i = 0; i < quantity; i++) out.writeUInt16BE(words[address + i] ?? 0, 2 + 2 * i);
    return out;
  }
  if (req.bits) req.bits.forEach((bit, i) => (bank.coils[address + i] = bit ? 1 : 0));
  if (req.words) req.words.forEach((word, i) => (bank.holdingRegisters[address + i] = word));
  // §6.5/6.6 echo the request; §6.11/6.12 answer with address and quantity.
  const out = Buffer.alloc(5);
  out[0] = fc;
  out.writeUInt16BE(address, 1);
  if (fc === 5) out.writeUInt16BE(req.bits?.[0] ? 0xff00 : 0, 3);
  else if (fc === 6) out.writeUInt16BE(req.words?.[0] ?? 0, 3);
  else out.writeUInt16BE(quantity, 3);
  return out;
}
