// Structured logs (pino) on stderr, so stdout carries only what a command promises to print
// (the ready line, a twin's JSON). One root logger per process, passed down, never global.

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info', name = 'edgetwin'): Logger {
  return pino({ name, level, base: undefined }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests, and library use without a logger). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
