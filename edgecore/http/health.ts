// /metrics (Prometheus text format), /healthz (the process is alive and its event loop turns)
// and /readyz (store open, broker listening, start-up finished; cloud sync reported): JSON
// bodies, 200 or 503, no authentication (docs/observability.md).

import type { Logger } from 'pino';
import { edgetwinError } from '../../errors.js';
import type { Router } from './router.js';
import { json } from './server.js';

export interface ReadinessCheck {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
}

export interface HealthRoutesOptions {
  readonly logger: Logger;
  /** The Prometheus exposition. */
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
  readonly readiness: () => Readiness;
}

export function addHealthRoutes(router: Router, o: HealthRoutesOptions): Router {
  const startedAt = Date.now();
  return router
    .get('/metrics', async () => {
      try {
        const { contentType, body } = await o.metrics();
        return { status: 200, headers: { 'content-type': contentType }, body };
      } catch (err) {
        o.logger.error({ err }, 'metrics collection failed');
        throw edgetwinError('EDGETWIN_ERR_INTERNAL', 'metrics collection failed (see the log)', [], err);
      }
    })
    // Answering at all proves the event loop turns; that is what "alive" can mean here.
    .get('/healthz', () => json(200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }))
    .get('/readyz', () => {
      const { ready, checks } = o.readiness();
      return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    });
}
