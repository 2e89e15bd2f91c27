// edgecore/: the composition root (config → modules → start/stop), logging.
export { EdgeCore, type EdgeCoreOptions, type StartupReport } from './app.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { manifestFingerprint, readManifestCache } from './manifest-cache.js';
export { VERSION } from './version.js';
