// Unix socket paths for DMI, checked before anything binds. Linux keeps at most 108 bytes of a
// socket path (sockaddr_un.sun_path) and Node and grpc-js silently bind the truncated path
// (reference: unix(7)), so a longer one is refused with a code. Like edgecore's listener
// (k8s.io/cri-client util_unix.go CreateListener) a stale socket file is removed and the folder
// created; unlike it, a socket something still answers on is never taken over.

import { mkdirSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { edgetwinError, type EdgetwinError } from '../errors.js';

export const MAX_SOCKET_PATH_BYTES = 108;

/** Why `path` cannot name a unix socket, or undefined when it can. */
export function socketPathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (path.includes('\u0000')) return 'contains a NUL byte';
  const bytes = Buffer.byteLength(resolve(path));
  if (bytes > MAX_SOCKET_PATH_BYTES) return `is ${bytes} bytes long once absolute; a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES} (the kernel would cut it silently)`;
  return undefined;
}

/** The absolute form of a socket path; throws EDGETWIN_ERR_DMI_SOCKET when it cannot be one. */
export function checkSocketPath(path: string, what: string): string {
  const problem = socketPathProblem(path);
  if (problem) throw edgetwinError('EDGETWIN_ERR_DMI_SOCKET', `${what} ${JSON.stringify(path)} ${problem}`, [{ path, message: problem }]);
  return isAbsolute(path) ? path : resolve(path);
}

/** Resolves true if something accepts a connection on the socket within `timeoutMs`. */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(path);
    const done = (answers: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(answers);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Makes `path` ready to bind: checks its length, creates its folder (0750, as edgecore does),
 * removes a stale socket file. Throws EDGETWIN_ERR_DMI_SOCKET_IN_USE if a process answers on it,
 * EDGETWIN_ERR_DMI_SOCKET if it is another kind of file or the folder cannot be made.
 */
export async function prepareSocket(path: string, what: string): Promise<string> {
  const abs = checkSocketPath(path, what);
  const fail = (message: string, cause?: unknown): EdgetwinError => edgetwinError('EDGETWIN_ERR_DMI_SOCKET', `${what} ${abs}: ${message}`, [{ path: abs, message }], cause);
  try {
    mkdirSync(dirname(abs), { recursive: true, mode: 0o750 });
  } catch (err) {
    throw fail(`cannot create its folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  let isSocket: boolean;
  try {
    isSocket = lstatSync(abs).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return abs;
    throw fail(`cannot be inspected (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  if (!isSocket) throw fail('exists and is not a socket; edgetwin will not delete it');
  if (await socketAnswers(abs)) {
    throw edgetwinError('EDGETWIN_ERR_DMI_SOCKET_IN_USE', `${what} ${abs}: another process answers on it (is another edgetwin or edgecore running?)`, [{ path: abs, message: 'in use' }]);
  }
  try {
    unlinkSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(`the stale socket cannot be removed (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  return abs;
}
