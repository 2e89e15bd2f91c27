// The worker of edgecore/manifests.ts: compiles the models itself (compiled validators cannot
// cross threads), loads the manifests, posts the devices and the errors as plain data, exits.

import { parentPort, workerData } from 'node:worker_threads';
import { loadDevices, loadModels } from '../schemas/index.js';
import type { WorkerInput, WorkerResult } from './manifests.js';

const input = workerData as WorkerInput;
const { models } = loadModels(input.modelPaths);
const { devices, errors } = loadDevices(input.devicePaths, models);
const result: WorkerResult = { devices, errors: errors.map((e) => ({ code: e.code, message: e.message, details: e.details })) };
parentPort?.postMessage(result);
