import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    // Real sockets and serial ports: forks, not threads (a serial port in a worker thread
    // aborts the run with a V8 locking error; see shared/reference/dependencies.md §1).
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
