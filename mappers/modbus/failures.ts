// Everything that can go wrong on the wire, as coded EdgetwinErrors. modbus-serial reports
// failures as loosely shaped objects (some are not even Error instances: its timeout error is a
// plain constructor object), so they are classified here by their documented fields (`modbusCode`,
// `errno`, `code`), never elsewhere, and never by callers.

import { edgetwinError, isEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { RegisterTable } from './codec.js';

/** What was being attempted, for messages: "reading HoldingRegister 10..19 (FC3) from unit 1". */
export interface WireOp {
  readonly fc: number;
  readonly table: RegisterTable;
  readonly address: number;
  readonly quantity: number;
  readonly unit: number;
}

// Modbus Application Protocol v1.1b3 §7 (exception codes).
const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export function exceptionName(code: number): string {
  return `${EXCEPTION_NAMES[code] ?? 'unknown exception'} (${code})`;
}

const exceptionCodes = new WeakMap<EdgetwinError, number>();

/** The exception code of an EDGETWIN_ERR_MODBUS_EXCEPTION made here, so callers need not parse messages. */
export function modbusExceptionCode(err: unknown): number | undefined {
  return isEdgetwinError(err, 'EDGETWIN_ERR_MODBUS_EXCEPTION') ? exceptionCodes.get(err) : undefined;
}

export function describeOp(op: WireOp): string {
  const verb = op.fc <= 4 ? 'reading' : 'writing';
  const range = op.quantity > 1 ? `${op.address}..${op.address + op.quantity - 1}` : `${op.address}`;
  return `${verb} ${op.table} ${range} (FC${op.fc}) from unit ${op.unit}`;
}

export function exceptionError(op: WireOp, code: number, cause?: unknown): EdgetwinError {
  const name = exceptionName(code);
  const err = edgetwinError(
    'EDGETWIN_ERR_MODBUS_EXCEPTION',
    `Modbus exception ${describeOp(op)}: ${name}`,
    [{ path: `${op.table}/${op.address}`, message: name }],
    cause,
  );
  exceptionCodes.set(err, code);
  return err;
}

export function timeoutError(op: WireOp, timeoutMs: number): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `No response within ${timeoutMs} ms ${describeOp(op)}`);
}

export function connectionError(where: string, reason: string, cause?: unknown): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `Modbus connection to ${where}: ${reason}`, [], cause);
}

/**
 * The error for an aborted operation: the signal's reason when it is already coded, a timeout
 * when the signal came from AbortSignal.timeout(), otherwise EDGETWIN_ERR_MAPPER_ABORTED.
 */
export function abortError(signal: AbortSignal, what: string): EdgetwinError {
  const reason: unknown = signal.reason;
  if (isEdgetwinError(reason)) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `Deadline passed while ${what}`, [], reason);
  }
  return edgetwinError('EDGETWIN_ERR_MAPPER_ABORTED', `Cancelled while ${what}`, [], reason);
}

interface LooseFailure {
  readonly message?: unknown;
  readonly modbusCode?: unknown;
  readonly errno?: unknown;
  readonly code?: unknown;
}

function field(err: unknown, key: keyof LooseFailure): unknown {
  return typeof err === 'object' && err !== null ? (err as LooseFailure)[key] : undefined;
}

/** Socket and serial errno codes that mean the link itself is gone. */
const LINK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ETIMEDOUT', 'ENOENT', 'EACCES', 'EIO']);

export function linkReason(err: unknown): string {
  const code = field(err, 'code') ?? field(err, 'errno');
  const message = field(err, 'message');
  const text = typeof message === 'string' ? message : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}

/**
 * Classifies what modbus-serial handed back for one request. `where` names the endpoint for
 * connection errors.
 */
export function fromWire(err: unknown, op: WireOp, where: string, timeoutMs: number): EdgetwinError {
  if (isEdgetwinError(err)) return err;
  const modbusCode = field(err, 'modbusCode');
  if (typeof modbusCode === 'number') return exceptionError(op, modbusCode, err);
  const message = field(err, 'message');
  const text = typeof message === 'string' ? message : String(err);
  const errno = field(err, 'errno') ?? field(err, 'code');
  if (text === 'CRC error') {
    return edgetwinError('EDGETWIN_ERR_MODBUS_CRC', `CRC error in the response ${describeOp(op)}`, [], err);
  }
  if (errno === 'ETIMEDOUT' && text === 'Timed out') return timeoutError(op, timeoutMs);
  if (/^(Data length error|Unexpected data error)/.test(text)) {
    return edgetwinError('EDGETWIN_ERR_MODBUS_RESPONSE', `Malformed response ${describeOp(op)}: ${text}`, [], err);
  }
  if (typeof errno === 'string' && LINK_CODES.has(errno)) return connectionError(where, `${linkReason(err)} while ${describeOp(op)}`, err);
  return connectionError(where, `${text} while ${describeOp(op)}`, err);
}

/** Errors after which the link is in an unknown state (a late or partial reply may follow). */
export function dropsLink(err: EdgetwinError): boolean {
  return (
    err.code === 'EDGETWIN_ERR_MAPPER_TIMEOUT' ||
    err.code === 'EDGETWIN_ERR_MAPPER_ABORTED' ||
    err.code === 'EDGETWIN_ERR_MAPPER_CONNECTION' ||
    err.code === 'EDGETWIN_ERR_MODBUS_RESPONSE'
  );
}
