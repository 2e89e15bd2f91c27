// @edgetwin/mapper-opcua: the OPC UA protocol as a plugin package. It imports edgetwin only
// through its public entry points (`edgetwin`, `edgetwin/sdk`), and node-opcua only when a device
// first connects or a simulator starts (mappers/opcua/load.ts). docs/opcua.md describes it.

import { DEFAULT_BACKOFF, type BackoffOptions, type MapperFactory, type ProtocolPlugin } from 'edgetwin/sdk';
import { PROTOCOL_CONFIG_SCHEMA, VISITOR_CONFIG_SCHEMA, resolveProtocol, resolveVisitor, type OpcuaPoint } from './config.js';
import { OpcuaDriver } from './driver.js';
import { join } from 'node:path';
import { defaultPkiDir } from './pki.js';
import { createOpcuaSimulator } from './simulator.js';

export interface OpcuaMapperOptions {
  /** Folder for the client's PKI: own certificate, trusted and rejected server certificates. */
  readonly pkiDir?: string;
  /** Re-opening a dropped link that carries monitored items (polls retry on the runtime's backoff). */
  readonly backoff?: BackoffOptions;
}

/**
 * The factory. Its configData types are `unknown` on purpose: connect() resolves and checks them
 * itself (config.ts), whoever calls it, so a device is refused before anything is dialled.
 */
export function createOpcuaMapper(o: OpcuaMapperOptions = {}): MapperFactory {
  return {
    protocol: 'opcua',
    protocolConfigSchema: PROTOCOL_CONFIG_SCHEMA,
    visitorConfigSchema: VISITOR_CONFIG_SCHEMA,
    connect(ctx, device) {
      // Everything is checked here, before node-opcua loads or anything is dialled.
      const endpoint = resolveProtocol(device.protocol, device.id);
      const points = new Map<string, OpcuaPoint>();
      for (const p of device.properties) points.set(p.name, resolveVisitor(p.visitor, device.id, p.name));
      return new OpcuaDriver(ctx, device.id, endpoint, points, {
        pkiDir: o.pkiDir ?? join(defaultPkiDir(), 'client'),
        backoff: o.backoff ?? DEFAULT_BACKOFF,
      });
    },
  };
}

export const opcuaMapper = createOpcuaMapper();

const plugin: ProtocolPlugin = {
  factory: opcuaMapper,
  simulator: createOpcuaSimulator(),
  description: 'OPC UA (node-opcua client): endpoint url and security in the protocol, a nodeID per property, monitored items for report-on-change',
};
export default plugin;

export { createOpcuaSimulator, startOpcuaServer, startOpcuaServers, type OpcuaSimServer, type OpcuaSimulatorOptions } from './simulator.js';
export { parseNodeId, type ParsedNodeId } from './nodeid.js';
export { PROTOCOL_CONFIG_SCHEMA, VISITOR_CONFIG_SCHEMA, SECURITY_MODES, SECURITY_POLICIES, OPCUA_DATA_TYPES, type OpcuaProtocolConfig, type OpcuaVisitorConfig } from './config.js';
