// edgetwin/testing: the conformance suite every mapper passes. It declares vitest tests, so it is
// imported from a mapper package's test files only (vitest is that package's dev dependency).
export { mapperConformance, type ConformanceFixture } from './mappers/sdk/conformance.js';
