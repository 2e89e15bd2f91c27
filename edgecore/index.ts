// edgecore/: the composition root (config → modules → start/stop), logging.
export { EdgeCore, type EdgeCoreOptions, type StartupReport } from './app.js';
export { checkNode, type CheckReport, type CheckWarning } from './check.js';
export { createLogger, LOG_FORMATS, logProblem, prettyLogs, silentLogger, type LogFormat, type Logger } from './logger.js';
export { manifestFingerprint, readManifestCache } from './manifest-cache.js';
export { VERSION } from './version.js';
