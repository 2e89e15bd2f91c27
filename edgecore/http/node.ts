// GET /api/v1/node: what the console's node page shows — the broker and its clients, the
// store, cloud sync and its outbox, push sinks and their queues, DMI mappers, the version.
// Each part is read through a getter edgecore/console.ts wires to the module that owns it.

import { edgetwinError } from '../../errors.js';
import type { Router } from './router.js';
import { json } from './server.js';
import type { Sessions } from './session.js';

/** A push sink and its queue, as telemetry/ reports it (none are wired here yet). */
export interface SinkStatus {
  readonly name: string;
  readonly kind: string;
  readonly state: string;
  readonly queued: number;
  readonly delivered?: number;
  readonly failed?: number;
  readonly lastError?: string;
}

/** Anything JSON-shaped a module reports about itself. */
export type Report = object;

export interface NodeSources {
  readonly sessions: Sessions;
  readonly version: string;
  readonly nodeName: string;
  readonly broker: () => Report | undefined;
  readonly store: () => Report;
  readonly cloudSync: () => Report | undefined;
  readonly dmi: () => Report | undefined;
  /** Push sinks and their queues; empty until a telemetry sink registers here. */
  readonly sinks: () => readonly SinkStatus[];
  readonly readiness: () => Report;
}

export function addNodeRoutes(router: Router, s: NodeSources): Router {
  return router.get('/api/v1/node', async ({ raw }) => {
    const caller = await s.sessions.identify(raw);
    if (caller.role === 'mapper') {
      throw edgetwinError('EDGETWIN_ERR_ACCESS_DENIED', `${caller.name ?? 'anonymous'} is a mapper account: the node page is for app, writer and admin users`);
    }
    return json(200, {
      version: s.version,
      nodeName: s.nodeName,
      broker: s.broker() ?? null,
      store: s.store(),
      cloudSync: s.cloudSync() ?? { state: 'off' },
      sinks: s.sinks(),
      dmi: s.dmi() ?? null,
      readiness: s.readiness(),
      links: { metrics: '/metrics', healthz: '/healthz', readyz: '/readyz' },
    });
  });
}
