// Process signals for `edgetwin run`. Installed before anything starts, so a signal that arrives
// during start-up (or right after a ready line) is handled too: SIGINT and SIGTERM stop, SIGHUP
// asks for a reload (the conventional meaning for daemons; without a listener it would kill the
// process on the spot, with no clean stop).
export interface Signals {
  /** Resolves on the first SIGINT or SIGTERM. */
  readonly stop: Promise<NodeJS.Signals>;
  /** Removes every listener (a later SIGINT/SIGTERM then kills the process, as by default). */
  dispose(): void;
}

export function watchSignals(onHangup: () => void): Signals {
  let resolveStop!: (signal: NodeJS.Signals) => void;
  const stop = new Promise<NodeJS.Signals>((resolve) => (resolveStop = resolve));
  const onStop = (signal: NodeJS.Signals): void => resolveStop(signal);
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHangup);
  return {
    stop,
    dispose: () => {
      process.off('SIGINT', onStop);
      process.off('SIGTERM', onStop);
      process.off('SIGHUP', onHangup);
    },
  };
}

/** Resolves on the first SIGINT or SIGTERM (commands without a reload: mapper, simulate). */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
