// `edgetwin --version` prints what edgecore/version.ts read from package.json, not a string of
// its own: with the version module replaced, the CLI prints the replacement.
import { expect, it, vi } from 'vitest';
import { main } from './main.js';

vi.mock('../edgecore/version.js', () => ({ VERSION: '9.8.7-from-package-json' }));

it('prints the version edgecore/version.ts gives', async () => {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  try {
    expect(await main(['--version'])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  expect(out.join('').trim()).toBe('9.8.7-from-package-json');
});
