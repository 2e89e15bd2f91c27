// One coded log line for a telemetry problem (the form edgecore/logger.ts logProblem writes).
import type { Logger } from 'pino';
import type { EdgetwinError } from '../errors.js';

export function logProblemLine(logger: Logger, err: EdgetwinError, device: string): void {
  logger.warn({ code: err.code, device }, `telemetry: ${err.code}: ${err.message}`);
}
