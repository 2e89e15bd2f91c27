// `edgetwin run`: start everything, print one ready line, stop cleanly on SIGINT/SIGTERM.

import { EdgeCore, createLogger } from '../edgecore/index.js';
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
  readonly dmiSocket?: string;
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
    ...(opts.logLevel !== undefined ? { log: { level: opts.logLevel as NonNullable<RawConfig['log']>['level'] } } : {}),
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
    ...(opts.dmiSocket !== undefined ? { dmi: { socket: opts.dmiSocket } } : {}),
  };
  const config = resolveConfig(raw, overrides);
  const logger = createLogger(config.log.level);

  // Signal handlers go in before anything starts (and before the ready line, which a
  // supervisor may answer with a signal at once): a SIGINT during start-up stops cleanly too.
  const stopRequested = waitForSignal();

  const core = new EdgeCore({ config, logger });
  try {
    const report = await core.start();
    const skipped = report.problems.length > 0 ? `, ${report.problems.length} skipped (see log)` : '';
    process.stdout.write(
      `edgetwin ready: broker ${core.brokerUrl}, node ${config.nodeName}, ${report.devices} devices, ${report.models} models${skipped}, store ${core.storePath}, ${core.security}${core.dmiSocket ? `, dmi ${core.dmiSocket}` : ''}\n`,
    );
    const signal = await stopRequested;
    logger.info({ signal }, 'shutting down');
  } finally {
    await core.stop().catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exitCode = 1;
    });
    logger.flush();
  }
  process.stdout.write('edgetwin stopped\n');
}
