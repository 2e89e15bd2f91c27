// edgetwin's one HTTP listener, put together (DESIGN.md "HTTP"): /metrics, /healthz and /readyz,
// the console and the HTTP API it uses, the history API. EdgeCore (app.ts) hands in what each
// part reads; a taken port is a warning, not a failed start (devices must keep being served when
// a monitoring port collides: 9464 is also OpenTelemetry's Prometheus exporter default).

import type { Logger } from 'pino';
import { toEdgetwinError } from '../errors.js';
import type { DeviceTwin } from '../devicetwin/index.js';
import type { BrokerAuth } from '../eventbus/index.js';
import type { EdgetwinConfig } from '../schemas/index.js';
import { addConsole, type ConsoleApi, type ConsoleOptions } from './console.js';
import { HttpServer, Router, addHealthRoutes, addHistoryRoutes, type Readiness } from './http/index.js';
import { logProblem } from './logger.js';
import { EdgeMetrics, type MetricsSources } from './metrics.js';

export interface HttpWiringOptions {
  readonly config: EdgetwinConfig;
  readonly auth: BrokerAuth;
  readonly logger: Logger;
  readonly metrics: MetricsSources;
  /** The twin once edgetwin is ready (the API answers 503 before). */
  readonly twin: () => DeviceTwin | undefined;
  readonly readiness: () => Readiness;
  readonly node: ConsoleOptions['node'];
}

export interface HttpWiring {
  readonly metrics: EdgeMetrics;
  readonly console: ConsoleApi;
  /** Undefined when the port could not be taken (logged with its code). */
  readonly server?: HttpServer;
}

export async function startHttp(o: HttpWiringOptions): Promise<HttpWiring> {
  const { host, port } = o.config.http;
  const metrics = new EdgeMetrics(o.metrics);
  const logger = o.logger.child({ module: 'http' });
  const router = new Router();
  addHealthRoutes(router, { logger, metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }), readiness: o.readiness });
  const consoleApi = addConsole(router, { config: o.config, auth: o.auth, logger, twin: o.twin, mappers: () => o.metrics.mappers(), node: o.node });
  addHistoryRoutes(router, { auth: o.auth, twin: o.twin, identify: (req) => consoleApi.identify(req) });
  const http = new HttpServer({ host, port, logger, router, upgrade: consoleApi.upgrade, ...(consoleApi.fallback ? { fallback: consoleApi.fallback } : {}) });
  try {
    await http.start();
    // The message predates the HTTP API; tools and tests look for it.
    o.logger.info({ url: http.url }, 'metrics and health listening');
    return { metrics, console: consoleApi, server: http };
  } catch (err) {
    const e = toEdgetwinError(err, 'EDGETWIN_ERR_METRICS_LISTEN');
    logProblem(o.logger, 'warn', e, {}, 'running without /metrics, /healthz and the HTTP API: ');
    return { metrics, console: consoleApi };
  }
}
