// The Modbus protocol's simulator (its registry entry's `simulator`): a simulated slave on each
// device's own ip:port (units sharing an endpoint share one server, as units behind one gateway
// do), so the unchanged Modbus mapper talks to it over TCP. simulators/ is imported on first
// use: a node that simulates nothing never loads it.

import { edgetwinError, formatError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { ProtocolSimulator, SimulatedDevices } from '../sdk/types.js';
import { parseProtocolConfig } from './config.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export const modbusSimulator: ProtocolSimulator = {
  async start(devices, ctx, options = {}): Promise<SimulatedDevices> {
    const { ModbusSimulator, ModbusTcpServer } = await import('../../simulators/index.js');
    type Unit = InstanceType<typeof ModbusSimulator>;
    const problems: EdgetwinError[] = [];
    const problem = (ids: readonly string[], err: unknown): void => {
      const e = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG');
      problems.push(e);
      ctx.logger.warn({ code: e.code, devices: ids, details: e.details }, `simulated ${ids.join(', ') || 'device'} not started: ${formatError(e)}`);
    };
    const endpoints = new Map<string, { host: string; port: number; units: Unit[] }>();
    for (const d of devices) {
      const id = d.instance.id;
      try {
        const { endpoint } = parseProtocolConfig(d.instance.protocol?.configData);
        if (endpoint.mode !== 'TCP') throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: ${id} is Modbus RTU; only TCP devices are simulated in-process`);
        const host = options.host ?? endpoint.host;
        const port = options.port ?? endpoint.port;
        // A simulated device stands in for hardware at the manifest's address: only loopback is
        // ours to listen on (an override is the caller's choice).
        if (options.host === undefined && !LOOPBACK.test(host)) {
          throw edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `simulate: ${id} points at ${host}; a simulated device must be on a loopback address`);
        }
        const key = `${host}:${port}`;
        const entry = endpoints.get(key) ?? { host, port, units: [] };
        entry.units.push(new ModbusSimulator({ device: d.instance, model: d.model, ...(options.seed !== undefined ? { seed: options.seed } : {}) }));
        endpoints.set(key, entry);
      } catch (err) {
        problem([id], err);
      }
    }
    const servers: Array<InstanceType<typeof ModbusTcpServer>> = [];
    const running: Unit[] = [];
    const served: string[] = [];
    for (const { host, port, units } of endpoints.values()) {
      try {
        const server = new ModbusTcpServer({ units, host, port });
        const bound = await server.start();
        servers.push(server);
        served.push(`${bound.host}:${bound.port}`);
        for (const unit of units) {
          unit.start();
          running.push(unit);
          ctx.logger.info(`simulated Modbus device ${unit.device.id} (unit ${unit.unitId}) on ${bound.host}:${bound.port}`);
        }
      } catch (err) {
        problem(units.map((u) => u.device.id), err);
      }
    }
    return {
      description: `modbus on ${served.join(', ') || 'nothing'}`,
      problems,
      async close() {
        for (const u of running.splice(0)) u.stop();
        await Promise.all(servers.splice(0).map((s) => s.close()));
      },
    };
  },
};
