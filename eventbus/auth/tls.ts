// The TLS listener's options from the config's file paths (`mqtt.tls`), checked at start-up so
// a wrong path or a key that does not match its certificate is a coded error, not a listener
// that fails every handshake.

import { readFileSync } from 'node:fs';
import { createSecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { edgetwinError } from '../../errors.js';

export type ClientCertificates = 'off' | 'optional' | 'required';

export interface TlsFiles {
  /** PEM server certificate (chain). */
  readonly cert: string;
  /** PEM private key of the certificate. */
  readonly key: string;
  /** PEM CA bundle that client certificates must chain to; required when they are used. */
  readonly ca?: string;
  /**
   * `off`: no client certificates (users authenticate with passwords). `optional`: a client may
   * present one; if it verifies, its subject CN names the user. `required`: the handshake fails
   * without a certificate that verifies against `ca`.
   */
  readonly clientCertificates?: ClientCertificates;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_TLS_CONFIG', `cannot read the TLS ${what} ${path}: ${(err as Error).message}`, [], err);
  }
}

export function loadTlsOptions(files: TlsFiles): TlsOptions {
  const mode = files.clientCertificates ?? 'off';
  if (mode !== 'off' && files.ca === undefined) {
    // Without a CA of its own, Node would verify client certificates against the public roots,
    // and anyone with a public certificate whose CN matched a user name would get in.
    throw edgetwinError('EDGETWIN_ERR_TLS_CONFIG', `mqtt.tls.clientCertificates is ${mode} but mqtt.tls.ca is not set: name the CA that issues client certificates`);
  }
  const options: TlsOptions = {
    cert: read(files.cert, 'certificate'),
    key: read(files.key, 'key'),
    ...(files.ca !== undefined ? { ca: read(files.ca, 'CA bundle') } : {}),
    requestCert: mode !== 'off',
    rejectUnauthorized: mode === 'required',
    minVersion: 'TLSv1.2',
  };
  try {
    createSecureContext(options);
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_TLS_CONFIG', `the TLS certificate, key or CA is not usable: ${(err as Error).message}`, [], err);
  }
  return options;
}

/**
 * A TLS client's certificate verdict, read once the handshake is done: the subject CN if the
 * certificate verified against the CA, or why it did not. Nothing when the client sent none.
 */
export function peerCertificate(socket: TLSSocket): { certificateName?: string; certificateError?: string } {
  const cert = socket.getPeerCertificate();
  // An empty object when the client sent no certificate.
  if (!cert || Object.keys(cert).length === 0) return {};
  if (!socket.authorized) return { certificateError: String(socket.authorizationError ?? 'not verified') };
  const cn = cert.subject?.CN;
  // Node gives an array for a subject with several CNs; which one names the user would be a guess.
  const name = Array.isArray(cn) ? undefined : cn;
  return name ? { certificateName: name } : { certificateError: 'the certificate has no single subject CN' };
}
