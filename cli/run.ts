// `edgetwin run`: start everything, print one ready line, stop cleanly on SIGINT/SIGTERM (also
// during start-up), reload models and manifests on SIGHUP.

import { EdgeCore, checkNode, createLogger } from '../edgecore/index.js';
import { edgetwinError } from '../errors.js';
import { formatReport, problemsError } from './check.js';
import { watchSignals } from './signals.js';
import { loadConfigFile, resolveConfig, type RawConfig } from '../schemas/index.js';

export interface RunOptions {
  readonly config?: string;
  readonly mqttPort?: number;
  readonly mqttHost?: string;
  /** embedded | external | both (config mqtt.mode). */
  readonly mqttMode?: string;
  /** The external broker, mqtt://[user:password@]host:port (config mqtt.external.url). */
  readonly mqttUrl?: string;
  readonly dataDir?: string;
  readonly nodeName?: string;
  readonly models?: readonly string[];
  readonly devices?: readonly string[];
  readonly logLevel?: string;
  readonly kubeconfig?: string;
  readonly httpPort?: number;
  readonly httpHost?: string;
  /** false with --no-http (commander sets true otherwise). */
  readonly http?: boolean;
  /** --metrics-port, --metrics-host, --no-metrics: the names --http-* had before the HTTP API. */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  readonly metrics?: boolean;
  readonly dmiSocket?: string;
  readonly logFormat?: string;
  /** Refuse to start with any problem (config `strict`). */
  readonly strict?: boolean;
  /** --no-watch: reload only on SIGHUP, not when a model or manifest file changes (config `watch`). */
  readonly watch?: boolean;
}

/** --http-* (and their --metrics-* aliases; an --http-* flag wins) as an `http` override. */
function httpOverrides(opts: RunOptions): RawConfig {
  const port = opts.httpPort ?? opts.metricsPort;
  const host = opts.httpHost ?? opts.metricsHost;
  const off = opts.http === false || opts.metrics === false;
  if (!off && port === undefined && host === undefined) return {};
  return { http: { ...(off ? { enabled: false } : {}), ...(port !== undefined ? { port } : {}), ...(host !== undefined ? { host } : {}) } };
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
    ...(opts.mqttPort !== undefined || opts.mqttHost !== undefined || opts.mqttMode !== undefined || opts.mqttUrl !== undefined
      ? {
          mqtt: {
            ...(opts.mqttPort !== undefined ? { port: opts.mqttPort } : {}),
            ...(opts.mqttHost !== undefined ? { host: opts.mqttHost } : {}),
            // Checked against the schema's enum by resolveConfig (EDGETWIN_ERR_CONFIG_INVALID).
            ...(opts.mqttMode !== undefined ? { mode: opts.mqttMode as NonNullable<RawConfig['mqtt']>['mode'] } : {}),
            ...(opts.mqttUrl !== undefined ? { external: { url: opts.mqttUrl } } : {}),
          },
        }
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
    ...(opts.watch === false ? { watch: false } : {}),
    ...(opts.kubeconfig !== undefined ? { cloud: { kubeconfig: opts.kubeconfig } } : {}),
    ...httpOverrides(opts),
    ...(opts.dmiSocket !== undefined ? { dmi: { socket: opts.dmiSocket } } : {}),
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
  const core = new EdgeCore({ config, logger });
  let ready = false;
  let hangupDuringStart = false;
  const reload = (): void => {
    if (!ready) {
      hangupDuringStart = true; // the files may have changed after start-up read them
      return;
    }
    logger.info('SIGHUP: reloading models and manifests');
    // reload() logs what it loaded and each file it skipped.
    core.reload().catch((err: unknown) => logger.error({ err }, 'reload failed'));
  };
  const signals = watchSignals(reload);
  try {
    const started = core.start();
    const first = await Promise.race([started.then((report) => ({ report })), signals.stop.then((signal) => ({ signal }))]);
    if ('signal' in first) {
      // Stopped during start-up: start() ends at its next step and undoes what it had started.
      logger.info({ signal: first.signal }, 'shutting down during start-up');
      await core.stop();
      await started.catch(() => undefined);
    } else {
      const { report } = first;
      // What only starting can find (a simulator's port taken, a device over mqtt.limits once
      // cluster devices joined): each is logged once as it happens; strict stops here.
      if (config.strict && report.problems.length > 0) {
        const codes = [...new Set(report.problems.map((p) => p.code))].join(', ');
        throw edgetwinError('EDGETWIN_ERR_STARTUP_PROBLEMS', `run --strict: ${report.problems.length} problem(s) at start-up (${codes}, each logged above); stopped`);
      }
      const skipped = report.problems.length > 0 ? `, ${report.problems.length} skipped (see log)` : '';
      process.stdout.write(
        `edgetwin ready: broker ${core.brokerUrl}${modeNote(core)}, node ${config.nodeName}, ${report.devices} devices, ${report.models} models${skipped}, store ${core.storePath}, ${core.security}` +
          `${core.httpUrl !== undefined ? `, http ${core.httpUrl}` : ''}${core.httpUrl !== undefined && config.http.console ? `, console ${core.httpUrl}/` : ''}${core.dmiSocket ? `, dmi ${core.dmiSocket}` : ''}\n`,
      );
      ready = true;
      if (hangupDuringStart) reload();
      const signal = await signals.stop;
      logger.info({ signal }, 'shutting down');
    }
  } finally {
    ready = false;
    // Each step that fails to stop is logged there (edgecore/app.ts doStop), once.
    await core.stop().catch(() => {
      process.exitCode = 1;
    });
    signals.dispose();
    logger.flush();
  }
  process.stdout.write('edgetwin stopped\n');
}

/** What the ready line adds after the broker URL outside embedded mode. */
function modeNote(core: EdgeCore): string {
  const mode = core.config.mqtt.mode;
  if (mode === 'embedded') return '';
  if (mode === 'external') return ' (external)';
  return ` (both: external ${core.externalBus?.url ?? '?'})`;
}
