// Resolves on the first SIGINT or SIGTERM. Install it before starting anything, so a signal
// that arrives during start-up (or right after a ready line) still stops cleanly.
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
