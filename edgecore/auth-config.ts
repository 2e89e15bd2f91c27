// The broker's users, roles and anonymous policy from the config's `mqtt.auth` (docs/security.md).
// Built in every mode: in external mode MQTT clients authenticate with the outside broker, and
// the users file serves edgetwin's HTTP API and console alone.

import type { Logger } from 'pino';
import { BrokerAuth, type BrokerAuthOptions } from '../eventbus/index.js';
import type { EdgetwinConfig } from '../schemas/index.js';

export function brokerAuthFromConfig(config: EdgetwinConfig, registry: BrokerAuthOptions['registry'], logger: Logger): BrokerAuth {
  const { auth, tls } = config.mqtt;
  return new BrokerAuth({
    nodeName: config.nodeName,
    registry,
    logger,
    anonymousRole: auth.anonymousRole,
    plainHost: config.mqtt.host,
    ...(auth.usersFile !== undefined ? { usersFile: auth.usersFile } : {}),
    ...(auth.anonymous !== undefined ? { anonymous: auth.anonymous } : {}),
    ...(tls ? { clientCertificates: tls.clientCertificates } : {}),
  });
}
