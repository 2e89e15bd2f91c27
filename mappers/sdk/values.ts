// Helpers every driver needs when it turns bytes into values and checks its own config.

import type { ValidateFunction } from 'ajv';
import { edgetwinError, type ErrorDetail } from '../../errors.js';

/** The shortest decimal that is the same float32: 21.5f reads 21.5, 0.1f reads 0.1, not 0.10000000149. */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let digits = 1; digits < 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/**
 * Runs a compiled ajv validator over a driver's configData; on failure throws
 * EDGETWIN_ERR_MAPPER_CONFIG listing every problem with its JSON pointer.
 * `label` names the mapper and the block, e.g. `Modbus protocol configData`.
 */
export function checkConfig<T>(validate: ValidateFunction<T>, data: unknown, label: string): T {
  if (validate(data)) return data;
  const details: ErrorDetail[] = (validate.errors ?? []).map((e) => {
    const extra = (e.params as { additionalProperty?: unknown }).additionalProperty;
    const path = typeof extra === 'string' ? `${e.instancePath}/${extra}` : e.instancePath;
    return { path: path === '' ? '(root)' : path, message: e.message ?? e.keyword };
  });
  const summary = details.map((d) => `${d.path} ${d.message}`).join('; ');
  throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `${label}: ${summary}`, details);
}
