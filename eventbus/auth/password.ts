// Password hashing for the users file: scrypt (node:crypto), stored as a PHC string
// `$scrypt$ln=14,r=8,p=5$<salt>$<hash>` (base64, no padding) so the cost can be raised later
// without invalidating existing entries: each hash carries its own parameters.

import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptCost {
  /** log2 of N, the CPU/memory cost. */
  readonly ln: number;
  /** Block size. */
  readonly r: number;
  /** Parallelisation (Node runs the p lanes one after the other). */
  readonly p: number;
}

/**
 * OWASP Password Storage Cheat Sheet (2023): scrypt with N=2^17, r=8, p=1, "or" an equivalent
 * trade of memory for passes; N=2^14, r=8, p=5 is the listed equivalent with the least memory
 * (16 MiB per check), which matters on an edge node. ~160 ms per check on a 2-core x86 VM.
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = { ln: 14, r: 8, p: 5 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PHC_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;

function derive(password: string, salt: Buffer, cost: ScryptCost, length: number): Promise<Buffer> {
  const N = 2 ** cost.ln;
  // scrypt needs 128·N·r bytes (plus a little); the default maxmem (32 MiB) would refuse ln ≥ 15.
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

// Base64 has `=` only as trailing padding, so removing every `=` strips exactly the padding.
const b64 = (b: Buffer): string => b.toString('base64').replaceAll('=', '');

/** A new PHC string for `password`, with a fresh random salt. */
export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost, KEY_BYTES);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(key)}`;
}

interface ParsedHash {
  readonly cost: ScryptCost;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** The parts of a PHC scrypt string, or undefined if it is not one we can check. */
export function parsePasswordHash(hash: string): ParsedHash | undefined {
  const m = PHC_RE.exec(hash);
  if (!m) return undefined;
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // Bounds that keep one check under a second and a few hundred MiB, whatever the file says.
  if (cost.ln < 1 || cost.ln > 20 || cost.r < 1 || cost.r > 32 || cost.p < 1 || cost.p > 16) return undefined;
  return { cost, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

/**
 * True if `password` matches `hash`. Constant-time comparison; a malformed hash is false.
 * Pass `hash` undefined for an unknown user: a dummy check of the default cost still runs, so
 * the answer takes as long as for a real user and does not reveal which names exist. The
 * derivation runs on libuv's thread pool (async scrypt), never on the event loop; how many run
 * at once, and in which order, is the caller's (throttle.ts for CONNECTs).
 */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const parsed = hash === undefined ? undefined : parsePasswordHash(hash);
  const cost = parsed?.cost ?? DEFAULT_SCRYPT_COST;
  const salt = parsed?.salt ?? DUMMY_SALT;
  const length = parsed?.key.length ?? KEY_BYTES;
  const key = await derive(password, salt, cost, length);
  return parsed !== undefined && timingSafeEqual(key, parsed.key);
}

const DUMMY_SALT = Buffer.alloc(SALT_BYTES, 0x5a);
