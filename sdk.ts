// edgetwin/sdk: what a protocol mapper package imports — the mapper contract, the runtime every
// mapper shares, and the value helpers. A plugin package imports edgetwin only through this entry
// point, `edgetwin` and `edgetwin/testing` (docs/writing-a-mapper.md).
export * from './mappers/sdk/index.js';
