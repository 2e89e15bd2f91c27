// `edgetwin run`: start everything, print one ready line, stop cleanly on SIGINT/SIGTERM.

import { EdgeCore, checkNode, createLogger } from '../edgecore/index.js';
import { edgetwinError } from '../errors.js';
import { formatReport, problemsError } from './check.js';
import { waitForSignal } from './signals.js';
import { loadConfigFile, resolveConfig, type RawConfig } from '../schemas/index.js';

export interface RunOptions {
  readonly config?: string;
  readonly mqttPort?: number;
  readonly mqttHost?: string;
  readonly dataDir?: string;
  readonly nodeName?: string;
  readonly models?: readonly string[];
  readonly devices?: readonly string[];
  readonly logLevel?: string;
  readonly kubeconfig?: string;
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /** false with --no-metrics (commander sets true otherwise). */
  readonly metrics?: boolean;
  readonly logFormat?: string;
  /** Refuse to start with any problem (config `strict`). */
  readonly strict?: boolean;
}

export async function runCommand(opts: RunOptions): Promise<void> {
  // A config that fails its schema is refused here, before anything starts.
  const raw = opts.config ? loadConfigFile(opts.config) : {};
  // --models/--devices add to what the config names; the other flags replace its values.
  const overrides: RawConfig = {
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    ...(opts.nodeName !== undefined ? { nodeName: opts.nodeName } : {}),
    ...(opts.models !== undefined ? { models: [...(raw.models ?? []), ...opts.models] } : {}),
    ...(opts.devices !== undefined ? { devices: [...(raw.devices ?? []), ...opts.devices] } : {}),
    ...(opts.mqttPort !== undefined || opts.mqttHost !== undefined
      ? { mqtt: { ...(opts.mqttPort !== undefined ? { port: opts.mqttPort } : {}), ...(opts.mqttHost !== undefined ? { host: opts.mqttHost } : {}) } }
      : {}),
    ...(opts.logLevel !== undefined || opts.logFormat !== undefined
      ? {
          log: {
            ...(opts.logLevel !== undefined ? { level: opts.logLevel as NonNullable<RawConfig['log']>['level'] } : {}),
            ...(opts.logFormat !== undefined ? { format: opts.logFormat as NonNullable<RawConfig['log']>['format'] } : {}),
          },
        }
      : {}),
    ...(opts.strict === true ? { strict: true } : {}),
    ...(opts.kubeconfig !== undefined ? { cloud: { kubeconfig: opts.kubeconfig } } : {}),
    ...(opts.metrics === false || opts.metricsPort !== undefined || opts.metricsHost !== undefined
      ? {
          metrics: {
            ...(opts.metrics === false ? { enabled: false } : {}),
            ...(opts.metricsPort !== undefined ? { port: opts.metricsPort } : {}),
            ...(opts.metricsHost !== undefined ? { host: opts.metricsHost } : {}),
          },
        }
      : {}),
  };
  const config = resolveConfig(raw, overrides);
  const logger = createLogger(config.log.level, 'edgetwin', config.log.format);
  // --strict: the same checks as `edgetwin check`, before the store opens or a port listens.
  if (config.strict) {
    const checked = await checkNode(config);
    if (checked.problems.length > 0) {
      process.stderr.write(formatReport({ ...checked, warnings: [] }));
      throw problemsError({ ...checked, warnings: [] }, 'run --strict');
    }
  }

  // Signal handlers go in before anything starts (and before the ready line, which a
  // supervisor may answer with a signal at once): a SIGINT during start-up stops cleanly too.
  const stopRequested = waitForSignal();

  const core = new EdgeCore({ config, logger });
  try {
    const report = await core.start();
    // What only starting can find (a simulator's port taken, a device over mqtt.limits once
    // cluster devices joined): each is logged once as it happens; strict stops here.
    if (config.strict && report.problems.length > 0) {
      const codes = [...new Set(report.problems.map((p) => p.code))].join(', ');
      throw edgetwinError('EDGETWIN_ERR_STARTUP_PROBLEMS', `run --strict: ${report.problems.length} problem(s) at start-up (${codes}, each logged above); stopped`);
    }
    const skipped = report.problems.length > 0 ? `, ${report.problems.length} skipped (see log)` : '';
    process.stdout.write(
      `edgetwin ready: broker ${core.brokerUrl}, node ${config.nodeName}, ${report.devices} devices, ${report.models} models${skipped}, store ${core.storePath}, ${core.security}\n`,
    );
    const signal = await stopRequested;
    logger.info({ signal }, 'shutting down');
  } finally {
    // Each step that fails to stop is logged there (edgecore/app.ts doStop), once.
    await core.stop().catch(() => {
      process.exitCode = 1;
    });
    logger.flush();
  }
  process.stdout.write('edgetwin stopped\n');
}
