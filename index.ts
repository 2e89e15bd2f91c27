// edgetwin's public API: what `import ... from 'edgetwin'` gives.
export * from './errors.js';
export * from './eventbus/index.js';
export * from './schemas/index.js';
export * from './devicetwin/index.js';
export * from './edgecore/index.js';
export * from './mappers/index.js';
