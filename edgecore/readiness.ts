// /readyz (docs/observability.md): start-up done, store open and its last commit ok, the broker
// listening (embedded) or reached (external); cloud sync and DMI shown. An edge node serves its
// devices without the cloud (that is its point), so only a stopped cloud sync fails readiness;
// starting and degraded are reported, not failed.

import type { DmiHealth } from '../dmi/index.js';
import type { ExternalBusStatus } from '../eventbus/index.js';
import type { EdgetwinConfig } from '../schemas/index.js';
import { externalCheck } from './external.js';
import type { Readiness, ReadinessCheck } from './http/index.js';

export interface ReadinessState {
  readonly phase: 'starting' | 'ready' | 'stopping';
  readonly mode: EdgetwinConfig['mqtt']['mode'];
  /** The embedded broker's URL once it listens (undefined before, or without one). */
  readonly brokerUrl: string | undefined;
  readonly storeOpen: boolean;
  /** The last failed commit's message, if the last commit failed. */
  readonly storeFailing: string | undefined;
  readonly external: ExternalBusStatus | undefined;
  readonly cloudState: string;
  /** Set when `dmi.socket` is configured. */
  readonly dmi?: DmiHealth | 'configured';
}

export function readinessOf(s: ReadinessState): Readiness {
  const broker: ReadinessCheck = s.brokerUrl !== undefined && s.phase !== 'stopping' ? { ok: true, detail: s.brokerUrl } : { ok: false, detail: 'not listening' };
  const store = !s.storeOpen ? { ok: false, detail: 'not open' } : s.storeFailing ? { ok: false, detail: `last commit failed: ${s.storeFailing}` } : { ok: true, detail: 'open' };
  const checks: Record<string, ReadinessCheck> = {
    startup: { ok: s.phase === 'ready', detail: s.phase },
    store,
    ...(s.mode !== 'external' ? { broker } : {}),
    ...(s.mode !== 'embedded' ? { externalBroker: externalCheck(s.external) } : {}),
    cloudSync: { ok: s.cloudState !== 'stopped', detail: s.cloudState },
    ...(s.dmi !== undefined ? { dmi: dmiCheck(s.dmi) } : {}),
  };
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}

function dmiCheck(h: DmiHealth | 'configured'): ReadinessCheck {
  if (h === 'configured' || !h.listening) return { ok: false, detail: 'not listening' };
  const up = h.mappers.filter((m) => m.reachable).length;
  return { ok: true, detail: `${h.socket}, ${h.mappers.length} mappers (${up} reachable)` };
}
