// noble's binding seam (shared/reference/dependencies.md §5). The package has no `exports` map,
// so the deep import resolves, but it ships no types for it. The result is typed `unknown` on
// purpose: noble's own index.d.ts is loose (`any`, `Function`) and lacks `state`, so
// mappers/bluetooth/noble.ts narrows it once, behind its own small interfaces.
declare module '@abandonware/noble/with-bindings.js' {
  import type { EventEmitter } from 'node:events';

  /** `new Noble(bindings)`: a central that drives `bindings` instead of the platform's HCI socket. */
  const withBindings: (bindings: EventEmitter) => unknown;
  export default withBindings;
}
