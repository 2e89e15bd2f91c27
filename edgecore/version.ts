// edgetwin's version, from its package.json: one level up from edgecore/, two from dist/edgecore/.
import { createRequire } from 'node:module';

export const VERSION = ((): string => {
  const require = createRequire(import.meta.url);
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(candidate) as { name?: unknown; version?: unknown };
      if (pkg.name === 'edgetwin' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next
    }
  }
  return 'unknown';
})();
