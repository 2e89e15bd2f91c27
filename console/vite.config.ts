// The console's build: `vite build console` (package.json `prepare`, so `npm ci` builds it), into
// dist/console, which edgecore/http/static.ts serves. Everything comes from npm packages: no CDN.
import path from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: path.resolve(import.meta.dirname, '../dist/console'),
    emptyOutDir: true,
    // One small bundle; the report states its gzipped size (docs/console.md).
    reportCompressedSize: true,
    sourcemap: false,
    target: 'es2022',
  },
});
