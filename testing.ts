// edgetwin/testing: what a mapper package's tests import — the conformance suite every mapper
// passes and a broker to run a mapper against. The suite declares vitest tests, so this entry
// point is imported from test files only (vitest is then the package's dev dependency, and an
// optional peer dependency of edgetwin).
export { mapperConformance, type ConformanceFixture } from './mappers/sdk/conformance.js';
export { startTestBroker, type TestBroker } from './mappers/sdk/testing/broker-fixture.js';
