import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, EdgetwinError, edgetwinError, formatError, isEdgetwinError, toEdgetwinError } from './errors.js';

const root = new URL('.', import.meta.url);

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes errors.ts defines, with the same status', () => {
    const doc = readFileSync(new URL('docs/errors.md', root), 'utf8');
    const rows = [...doc.matchAll(/^\|\s*`?(EDGETWIN_ERR_[A-Z0-9_]+)`?\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [m[1], Number(m[2])]);
    const documented = Object.fromEntries(rows);
    const defined = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, v]) => [code, v.status]));
    expect(documented).toEqual(defined);
  });

  it('every EDGETWIN_ERR_* string in the source is a defined code (no typos, no undocumented codes)', () => {
    const out = execFileSync('git', ['grep', '-h', '-o', '-E', 'EDGETWIN_ERR_[A-Z0-9_]+', '--', '*.ts', ':!errors.ts'], {
      cwd: new URL('.', root),
      encoding: 'utf8',
    });
    const used = new Set(out.split('\n').filter(Boolean));
    const unknown = [...used].filter((c) => !(c in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('codes are stable identifiers', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^EDGETWIN_ERR_[A-Z0-9_]+$/);
  });

  it('builds, recognises and renders coded errors', () => {
    const err = edgetwinError('EDGETWIN_ERR_VALUE_TYPE', 'bad value', [{ path: 'setpoint', message: '"x" is not a number' }]);
    expect(err).toBeInstanceOf(EdgetwinError);
    expect(err.status).toBe(400);
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_VALUE_TYPE')).toBe(true);
    expect(isEdgetwinError(new Error('x'))).toBe(false);
    expect(formatError(err)).toBe('EDGETWIN_ERR_VALUE_TYPE: bad value\n  - setpoint: "x" is not a number');
    // A detail the message already says (path and sentence) is printed once, in the message.
    const said = edgetwinError('EDGETWIN_ERR_CONFIG_INVALID', 'Invalid configuration c.yaml (2 problems): /mqtt/port must be <= 65535; /extra is not an allowed key', [
      { path: '/mqtt/port', message: 'must be <= 65535' },
      { path: '/extra', message: 'is not an allowed key' },
      { path: '/other', message: 'is new' },
    ]);
    expect(formatError(said)).toBe('EDGETWIN_ERR_CONFIG_INVALID: Invalid configuration c.yaml (2 problems): /mqtt/port must be <= 65535; /extra is not an allowed key\n  - /other: is new');
    // A message ending with its details joined is shown as a head and one line per detail.
    const joined = edgetwinError('EDGETWIN_ERR_CONFIG_INVALID', 'Invalid configuration c.yaml (2 problems): /mqtt/port must be <= 65535; (root) is bad', [
      { path: '/mqtt/port', message: 'must be <= 65535' },
      { path: '', message: 'is bad' },
    ]);
    expect(formatError(joined)).toBe('EDGETWIN_ERR_CONFIG_INVALID: Invalid configuration c.yaml (2 problems):\n  - /mqtt/port must be <= 65535\n  - (root) is bad');
    expect(toEdgetwinError(new Error('boom')).code).toBe('EDGETWIN_ERR_INTERNAL');
    expect(err.toJSON()).toMatchObject({ code: 'EDGETWIN_ERR_VALUE_TYPE', status: 400 });
  });
});
