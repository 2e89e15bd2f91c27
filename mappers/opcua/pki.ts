// Certificate stores. node-opcua's default PKI lives in ~/.config/node-opcua-default-nodejs; an
// edge process must not write there, so every client and server gets an OPCUACertificateManager
// rooted in a folder of ours (the data dir when one is given, else a per-user temp folder).

import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { NodeOpcua } from './load.js';

type CertificateManager = InstanceType<NodeOpcua['OPCUACertificateManager']>;

/** The default PKI root: stable across runs (so a server can trust the client's certificate once). */
export function defaultPkiDir(): string {
  let user = 'user';
  try {
    user = userInfo().username || user;
  } catch {
    // No passwd entry (some containers): one shared folder name is fine.
  }
  return join(tmpdir(), `edgetwin-opcua-${user}`);
}

const managers = new Map<string, Promise<CertificateManager>>();

/**
 * One initialised manager per folder and process. Unknown peer certificates are accepted and
 * kept under `trusted/` (trust on first use); docs/opcua.md says how to pin them instead.
 */
export function certificateManager(ua: NodeOpcua, rootFolder: string): Promise<CertificateManager> {
  let m = managers.get(rootFolder);
  if (!m) {
    const manager = new ua.OPCUACertificateManager({ rootFolder, automaticallyAcceptUnknownCertificate: true });
    m = manager.initialize().then(() => manager);
    m.catch(() => managers.delete(rootFolder));
    managers.set(rootFolder, m);
  }
  return m;
}

/** The client's application name: its certificate (own/certs) is made for it once per folder. */
export const CLIENT_APPLICATION_NAME = 'edgetwin';

/**
 * Makes the client's own certificate in `rootFolder` unless it is there. Pure CPU work (RSA key
 * generation in JS, seconds on a busy machine), so a connect's network deadline never covers it.
 */
export async function ensureClientCertificate(ua: NodeOpcua, rootFolder: string): Promise<void> {
  const client = ua.OPCUAClient.create({ applicationName: CLIENT_APPLICATION_NAME, clientCertificateManager: await certificateManager(ua, rootFolder) });
  await client.createDefaultCertificate();
}
