import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The public entry points resolve to their sources in this repository's own tests, so a bundled
// plugin (mappers/opcua) imports edgetwin exactly as an outside package does, without a build.
const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^edgetwin\/sdk$/, replacement: here('./sdk.ts') },
      { find: /^edgetwin\/testing$/, replacement: here('./testing.ts') },
      { find: /^edgetwin$/, replacement: here('./index.ts') },
    ],
  },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    // Real sockets and serial ports: forks, not threads (a serial port in a worker thread
    // aborts the run with a V8 locking error; see shared/reference/dependencies.md §1).
    pool: 'forks',
    // Limits bound a hang, they time nothing: a 2-core CI machine under load takes seconds just to
    // spawn node, so the defaults are generous (STYLE.md habit 17).
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
