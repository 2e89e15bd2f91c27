// The external broker's client from the config (`mqtt.mode: external | both`,
// docs/external-broker.md), and how /readyz describes it.

import type { Logger } from 'pino';
import { edgetwinError } from '../errors.js';
import { ExternalBus, TWIN_INGEST_FILTERS, type ExternalBusStatus } from '../eventbus/index.js';
import type { EdgetwinConfig } from '../schemas/index.js';
import type { ReadinessCheck } from './http/index.js';

/** KubeEdge writes broker addresses as tcp:// and ssl:// (eventBus.mqttServerExternal); mqtt.js names them mqtt:// and mqtts://. */
const SCHEMES: Readonly<Record<string, string>> = { 'mqtt:': 'mqtt:', 'tcp:': 'mqtt:', 'mqtts:': 'mqtts:', 'ssl:': 'mqtts:' };

/** Splits `mqtt://user:password@host:port` into a URL without credentials and the decoded credentials. */
export function parseBrokerUrl(text: string): { url: string; username?: string; password?: string } {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw edgetwinError('EDGETWIN_ERR_CONFIG_INVALID', `mqtt.external.url ${JSON.stringify(text)} is not a URL (mqtt://[user:password@]host:port).`);
  }
  const scheme = SCHEMES[parsed.protocol];
  if (!scheme || !parsed.hostname) {
    throw edgetwinError('EDGETWIN_ERR_CONFIG_INVALID', `mqtt.external.url ${JSON.stringify(text)} must be mqtt://[user:password@]host:port (or mqtts://).`);
  }
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const port = parsed.port || (scheme === 'mqtts:' ? '8883' : '1883');
  return { url: `${scheme}//${parsed.host.replace(/:\d+$/, '')}:${port}`, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

export function externalBusFromConfig(config: EdgetwinConfig, logger: Logger): ExternalBus {
  const ext = config.mqtt.external;
  const { url, username, password } = parseBrokerUrl(ext.url);
  return new ExternalBus({
    url,
    clientId: ext.clientId ?? `edgetwin-${config.nodeName}`,
    // What the twin will handle (DeviceTwin.listen), so a resumed session's backlog waits for it.
    ingestFilters: TWIN_INGEST_FILTERS,
    logger,
    protocolVersion: ext.protocolVersion,
    maxInflight: ext.maxInflight,
    maxPacketBytes: config.mqtt.maxPacketBytes,
    reconnectBaseMs: ext.reconnectBaseMs,
    reconnectMaxMs: Math.max(ext.reconnectBaseMs, ext.reconnectMaxMs),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}

/** The /readyz check of the external broker: ready only while connected, and why not otherwise. */
export function externalCheck(status: ExternalBusStatus | undefined): ReadinessCheck {
  if (!status) return { ok: false, detail: 'not started' };
  if (status.connected) return { ok: true, detail: `connected to ${status.url}` };
  const why = status.lastError ?? 'connecting';
  const tries = status.attempts > 0 ? ` (${status.attempts} attempts so far, retrying with backoff)` : '';
  return { ok: false, detail: `not connected to the MQTT broker ${status.url}: ${why}${tries}` };
}
