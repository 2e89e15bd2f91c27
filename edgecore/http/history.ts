// GET /api/v1/devices/<namespace>/<name>/history: a device's history as JSON (docs/http-api.md),
// the same answer as the MQTT extension's, for the console and for scripts.

import type { IncomingMessage } from 'node:http';
import { edgetwinError } from '../../errors.js';
import type { DeviceTwin } from '../../devicetwin/index.js';
import { isValidName, isValidNamespace, type BrokerAuth } from '../../eventbus/index.js';
import { parseHistoryParams } from '../../telemetry/index.js';
import { authenticateHttp } from './auth.js';
import type { Router } from './router.js';
import { json } from './server.js';

export interface HistoryRouteOptions {
  readonly auth: BrokerAuth;
  /** The twin, once edgetwin is ready to answer; undefined while starting or stopping. */
  readonly twin: () => DeviceTwin | undefined;
  readonly clock?: () => number;
  /** Who calls; defaults to HTTP Basic or anonymous (auth.ts). The console adds its session (session.ts). */
  readonly identify?: (req: IncomingMessage) => Promise<{ readonly name: string | undefined }>;
}

/** Query parameters the endpoint takes; `properties` and `kinds` are accepted as plurals too. */
const PARAMETERS = ['property', 'properties', 'kind', 'kinds', 'since', 'until', 'step'];

export function addHistoryRoutes(router: Router, o: HistoryRouteOptions): Router {
  return router.get('/api/v1/devices/:namespace/:name/history', async ({ url, params, raw }) => {
    const { namespace = '', name = '' } = params;
    // Who asks comes first: an unauthenticated caller learns nothing, not even which devices exist.
    const user = o.identify ? await o.identify(raw) : await authenticateHttp(o.auth, raw);
    const id = `${namespace}/${name}`;
    const denied = o.auth.authorizeHistory(user.name, id);
    if (denied) throw denied;
    const unknown = [...new Set(url.searchParams.keys())].filter((k) => !PARAMETERS.includes(k));
    if (unknown.length > 0) {
      throw edgetwinError('EDGETWIN_ERR_HTTP_REQUEST', `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the history endpoint takes ${PARAMETERS.join(', ')}`);
    }
    const twin = o.twin();
    if (!twin) throw edgetwinError('EDGETWIN_ERR_HTTP_NOT_READY', 'edgetwin is starting or stopping; retry in a moment');
    if (!isValidNamespace(namespace) || !isValidName(name)) throw edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `${JSON.stringify(id.slice(0, 300))} is not a device id (<namespace>/<name>, DNS-1123 names)`);
    const q = url.searchParams;
    const request = parseHistoryParams(
      {
        properties: [...q.getAll('property'), ...q.getAll('properties')],
        kinds: [...q.getAll('kind'), ...q.getAll('kinds')],
        since: q.get('since') ?? undefined,
        until: q.get('until') ?? undefined,
        step: q.get('step') ?? undefined,
      },
      o.clock ? o.clock() : Date.now(),
    );
    return json(200, await twin.history(id, request));
  });
}
