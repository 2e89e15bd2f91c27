// Helpers every driver needs when it turns bytes into values and checks its own config.

import type { ValidateFunction } from 'ajv';
import { edgetwinError, type ErrorDetail } from '../../errors.js';

// Lives in schemas/ so the DMI codec (dmi/any.ts), which mappers import, can use it too.
export { shortestFloat32 } from '../../schemas/index.js';

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
