// Structured logs (pino) on stderr, so stdout carries only what a command promises to print
// (the ready line, a twin's JSON). One root logger per process, passed down, never global.
//
// On a terminal the lines are pretty (pino-pretty, written synchronously in this thread: no
// worker, and the last line before an exit is never lost); piped or redirected they stay JSON
// lines for a log collector. `log.format` (or --log-format) forces either.

import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { EdgetwinError } from '../errors.js';
import type { DeviceInstance } from '../schemas/index.js';

export type { Logger };

export type LogFormat = 'pretty' | 'json' | 'auto';

export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json', 'auto'];

/** Whether `auto` means pretty: stderr (where logs go) is a terminal. */
export function prettyLogs(format: LogFormat, stream: { readonly isTTY?: boolean } = process.stderr): boolean {
  return format === 'pretty' || (format === 'auto' && stream.isTTY === true);
}

type PrettyFactory = typeof import('pino-pretty');

/**
 * One line per entry: time, level, then `[module] CODE message`, then the remaining fields
 * inline. `code` and `details` are left out of the pretty line: an edgetwin error's message
 * already names every detail (errors.ts), so printing them again would say it all twice. JSON
 * lines keep every field.
 */
function prettyStream(): ReturnType<PrettyFactory> {
  // Loaded only when used: a node whose logs are JSON never pays for pino-pretty.
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as PrettyFactory;
  return pretty({
    sync: true,
    destination: 2,
    colorize: process.env.NO_COLOR === undefined && process.stderr.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,module,code,details',
    messageFormat: '{if module}[{module}] {end}{if code}{code} {end}{msg}',
    singleLine: true,
  });
}

export function createLogger(level: LevelWithSilent = 'info', name = 'edgetwin', format: LogFormat = 'auto'): Logger {
  const options = { name, level, base: undefined };
  if (prettyLogs(format)) return pino(options, prettyStream());
  return pino(options, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests, and library use without a logger). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Logs a coded error once: its sentence (which names its details) as the message, the code and
 * details as fields for whoever reads JSON. `prefix` says what happened to it ("skipped: ").
 */
export function logProblem(logger: Logger, level: 'warn' | 'error', err: EdgetwinError, fields: Record<string, unknown> = {}, prefix = ''): void {
  logger[level]({ ...fields, code: err.code, ...(err.details.length > 0 ? { details: err.details } : {}) }, `${prefix}${err.message}`);
}

/** A device's coded load warnings (fields edgetwin does not implement), one line each. */
export function logDeviceWarnings(logger: Logger, device: DeviceInstance): void {
  for (const w of device.warnings ?? []) logger.warn({ code: w.code, device: device.id, path: w.path }, `device ${device.id}: ${w.path ?? ''}: ${w.message}`);
}
