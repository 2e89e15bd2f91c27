// A virtual null-modem cable: two linked pseudo-terminals from socat (Debian package `socat`),
// so an RTU master and the RTU simulator can talk over real serial-port code paths.

import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { edgetwinError } from '../../errors.js';

export interface PtyPair {
  /** Path of one end (a symlink to /dev/pts/N). */
  readonly a: string;
  /** Path of the other end. */
  readonly b: string;
  /** Stops socat; idempotent. */
  close(): Promise<void>;
}

/** Is socat installed? */
export function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Starts `socat pty,raw,echo=0,link=DIR/A pty,raw,echo=0,link=DIR/B` and waits until it relays. */
export function openPtyPair(dir: string, timeoutMs = 5000): Promise<PtyPair> {
  const a = join(dir, 'A');
  const b = join(dir, 'B');
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<PtyPair>((resolve, reject) => {
    let log = '';
    const fail = (reason: string): void => {
      clearTimeout(timer);
      void close().then(() => reject(edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `socat pty pair: ${reason}`)));
    };
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms: ${log.trim()}`), timeoutMs);
    child.once('error', (err) => fail(err.message));
    const onExit = (code: number | null): void => fail(`exited with ${code}: ${log.trim()}`);
    child.once('exit', onExit);
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      // socat -d -d logs this once both ptys exist and their links are in place.
      if (log.includes('starting data transfer loop')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stderr.removeAllListeners('data');
        child.stderr.resume();
        resolve({ a, b, close });
      }
    });
  });
}
