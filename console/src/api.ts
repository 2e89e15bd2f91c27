// Calls to the HTTP API (same origin; the session cookie rides along, the CSRF token goes in a
// header on every change). A refusal becomes an ApiError carrying the server's code.

import type { ApiErrorBody, DeviceDetail, DeviceSummary, Session } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | undefined;

export function setCsrf(token: string | undefined): void {
  csrf = token;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  // x-edgetwin-console: a 401 then carries no Basic challenge, so the browser shows no password prompt.
  const headers: Record<string, string> = { accept: 'application/json', 'x-edgetwin-console': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf !== undefined) headers['x-edgetwin-csrf'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'EDGETWIN_ERR_INTERNAL', `the server answered ${res.status} with no JSON`);
  }
  if (!res.ok) {
    const e = (parsed as Partial<ApiErrorBody>).error;
    throw new ApiError(res.status, e?.code ?? 'EDGETWIN_ERR_INTERNAL', e?.message ?? `HTTP ${res.status}`);
  }
  return parsed as T;
}

export const api = {
  session: () => call<Session>('GET', '/api/v1/session'),
  login: (username: string, password: string) => call<Session>('POST', '/api/v1/session', username === '' ? {} : { username, password }),
  logout: () => call<Session>('DELETE', '/api/v1/session'),
  devices: () => call<{ devices: DeviceSummary[] }>('GET', '/api/v1/devices'),
  device: (id: string) => call<DeviceDetail>('GET', `/api/v1/devices/${id}`),
  setDesired: (id: string, values: Record<string, unknown>) => call<unknown>('PUT', `/api/v1/devices/${id}/desired`, { values }),
  node: () => call<Record<string, unknown>>('GET', '/api/v1/node'),
  history: (id: string, property: string, since: string, step: string) =>
    call<{ series: Array<{ property: string; kind: string; t: number[]; value?: Array<number | string>; mean?: Array<number | null> }> }>(
      'GET',
      `/api/v1/devices/${id}/history?property=${encodeURIComponent(property)}&kind=reported&since=${since}&step=${step}`,
    ),
};
