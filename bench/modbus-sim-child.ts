// The Modbus side of benchmark (e), in its own process so the edgetwin process is measured
// alone: every Device manifest under <dir>/devices simulated as one unit behind one TCP
// server (a gateway), values walking every 100 ms. Prints {"port"} when listening and
// {"requests"} when it gets SIGTERM.

import path from 'node:path';
import { loadDevices, loadModels } from '../schemas/index.js';
import { ModbusSimulator, ModbusTcpServer } from '../simulators/index.js';

const dir = process.argv[2] ?? '.';
const models = loadModels([path.join(dir, 'models')]).models;
const { devices, errors } = loadDevices([path.join(dir, 'devices')], models);
const [problem] = errors;
if (problem) throw problem;
const units = devices.map((device, i) => new ModbusSimulator({ device, model: models.get(device.model)!, seed: i + 1, evolveEveryMs: 100 }));
const server = new ModbusTcpServer({ units });
const { port } = await server.start();
for (const u of units) u.start();
console.log(JSON.stringify({ port }));

process.once('SIGTERM', () => {
  const requests = units.reduce((n, u) => n + u.stats.requests, 0);
  for (const u of units) u.stop();
  void server.close().then(() => console.log(JSON.stringify({ requests })));
});
