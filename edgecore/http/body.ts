// Request bodies of the HTTP API: JSON only, `application/json` only (a cross-origin page cannot
// send that content type without a CORS preflight, which this server never grants), and small.

import type { IncomingMessage } from 'node:http';
import { edgetwinError } from '../../errors.js';

/** Bodies are a few property values or a login: 64 KiB is generous. */
export const MAX_BODY_BYTES = 64 * 1024;

function bodyError(message: string): never {
  throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', message);
}

/** Reads and parses a JSON object body; throws EDGETWIN_ERR_HTTP_BODY. */
export async function readJsonObject(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') bodyError(`the body must be JSON with content-type application/json, not ${JSON.stringify(type || 'none')}`);
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) bodyError(`the body is ${declared} bytes; at most ${maxBytes} are taken`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) bodyError(`the body is over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    bodyError(`the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) bodyError('the body must be a JSON object');
  return parsed as Record<string, unknown>;
}
