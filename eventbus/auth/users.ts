// The users file: who may connect to the broker and in which role. YAML (JSON is YAML too):
//
//   users:
//     modbus-mapper: { role: mapper, protocols: [modbus], password: "$scrypt$ln=14,r=8,p=5$…" }
//     dashboard:     { role: app, password: "$scrypt$…" }
//     line-3:        { role: mapper, devices: [plant/press-3] }   # TLS client certificate CN=line-3
//
// `edgetwin user add` writes it (cli/user.ts); an operator may edit it by hand. A running broker
// re-reads it when it changes (watched, and checked at each CONNECT), so adding a user needs no
// restart, and removing or narrowing one reaches its connected clients too (auth.ts).

import { chmodSync, readFileSync, renameSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseDocument, Document, isMap } from 'yaml';
import { edgetwinError, type EdgetwinError } from '../../errors.js';
import { parseDeviceId } from '../topics.js';
import { parsePasswordHash } from './password.js';

export const ROLES = ['admin', 'writer', 'app', 'mapper'] as const;
export type Role = (typeof ROLES)[number];

/** One user as written in the file. */
export interface UserEntry {
  readonly role: Role;
  /** A PHC scrypt string; absent for a user that only authenticates with a client certificate. */
  readonly password?: string;
  /** mapper: the protocolNames whose devices it serves. */
  readonly protocols?: readonly string[];
  /** mapper: devices it serves besides those of its protocols; app/writer: the only devices it may see. */
  readonly devices?: readonly string[];
}

/** A user as the ACL sees it. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
  readonly protocols: ReadonlySet<string>;
  readonly devices: ReadonlySet<string>;
}

/** MQTT allows any UTF-8 username; edgetwin keeps names plain so logs and CNs stay unambiguous. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;

export function isValidUserName(name: string): boolean {
  return NAME_RE.test(name);
}

function usersError(source: string, message: string, cause?: unknown): EdgetwinError {
  return edgetwinError('EDGETWIN_ERR_USERS_FILE', `users file ${source}: ${message}`, [], cause);
}

function stringList(value: unknown, what: string, fail: (m: string) => never): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string' && v.length > 0)) {
    return fail(`${what} must be a list of non-empty strings`);
  }
  return value;
}

/** Checks one entry; throws EDGETWIN_ERR_USERS_FILE naming the user and the problem. */
export function checkUserEntry(name: string, raw: unknown, source: string): UserEntry {
  const fail: (message: string) => never = (message) => {
    throw usersError(source, `user "${name}": ${message}`);
  };
  if (!isValidUserName(name)) fail('names are 1-128 letters, digits and . _ @ : - (starting with a letter or digit)');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('must be a mapping');
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!['role', 'password', 'protocols', 'devices'].includes(key)) fail(`unknown key "${key}"`);
  }
  const role = entry.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) fail(`role must be one of ${ROLES.join(', ')}`);
  const password = entry.password;
  if (password !== undefined && (typeof password !== 'string' || !parsePasswordHash(password))) {
    fail('password must be a scrypt hash written by `edgetwin user add` ($scrypt$ln=…,r=…,p=…$salt$hash)');
  }
  const protocols = stringList(entry.protocols, 'protocols', fail);
  const devices = stringList(entry.devices, 'devices', fail);
  for (const id of devices ?? []) {
    if (!id.includes('/') || !parseDeviceId(id)) fail(`device "${id}" is not <namespace>/<name>`);
  }
  if (protocols && role !== 'mapper') fail('only a mapper has protocols');
  if (devices && role === 'admin') fail('an admin sees every device; devices are for a mapper, app or writer');
  if (role === 'mapper' && !protocols?.length && !devices?.length) fail('a mapper needs protocols or devices to serve');
  return {
    role: role as Role,
    ...(typeof password === 'string' ? { password } : {}),
    ...(protocols ? { protocols } : {}),
    ...(devices ? { devices } : {}),
  };
}

/** Parses the text of a users file. An empty file has no users. */
export function parseUsers(text: string, source: string): Map<string, UserEntry> {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw usersError(source, `not valid YAML: ${doc.errors[0]?.message ?? ''}`);
  const root: unknown = doc.toJS();
  const users = new Map<string, UserEntry>();
  if (root === null || root === undefined) return users;
  if (typeof root !== 'object' || Array.isArray(root)) throw usersError(source, 'must be a mapping with a `users` key');
  const list = (root as Record<string, unknown>).users;
  if (list === undefined || list === null) return users;
  if (typeof list !== 'object' || Array.isArray(list)) throw usersError(source, '`users` must map names to entries');
  for (const [name, raw] of Object.entries(list as Record<string, unknown>)) users.set(name, checkUserEntry(name, raw, source));
  return users;
}

function toPrincipal(name: string, entry: UserEntry): Principal {
  return { name, role: entry.role, protocols: new Set(entry.protocols ?? []), devices: new Set(entry.devices ?? []) };
}

export interface UsersLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** What a reload took away, for the connected clients of these users. */
export interface UsersChange {
  /** Users no longer in the file. */
  readonly removed: ReadonlySet<string>;
  /** Users whose entry changed in a way that may take a right away: role, scope or password. */
  readonly narrowed: ReadonlySet<string>;
}

/** Editors and `cat >` write in steps; a reload waits until the file has been quiet this long. */
const SETTLE_MS = 100;
/** Also re-checked this often, for file systems that report no changes (some network mounts). */
const POLL_MS = 1000;

const isSubset = (small: readonly string[] | undefined, big: readonly string[] | undefined): boolean =>
  (small ?? []).every((x) => (big ?? []).includes(x));

/** True if `after` allows everything `before` did (so the user's clients may stay connected). */
export function widens(before: UserEntry, after: UserEntry): boolean {
  if (before.password !== after.password) return false; // a new password ends the old sessions
  if (after.role === 'admin') return true;
  if (before.role === 'admin') return false;
  if (before.role === 'mapper' || after.role === 'mapper') {
    return before.role === after.role && isSubset(before.protocols, after.protocols) && isSubset(before.devices, after.devices);
  }
  if (before.role === 'writer' && after.role === 'app') return false;
  // app and writer: no `devices` list means every device.
  if (!after.devices?.length) return true;
  return Boolean(before.devices?.length) && isSubset(before.devices, after.devices);
}

function diffUsers(before: ReadonlyMap<string, UserEntry>, after: ReadonlyMap<string, UserEntry>): UsersChange {
  const removed = new Set<string>();
  const narrowed = new Set<string>();
  for (const [name, entry] of before) {
    const now = after.get(name);
    if (!now) removed.add(name);
    else if (!widens(entry, now)) narrowed.add(name);
  }
  return { removed, narrowed };
}

/** The users file as the broker sees it: loaded at start, re-read when it changes. */
export class UsersFile {
  readonly path: string;
  private readonly log: UsersLog;
  private entries = new Map<string, UserEntry>();
  private principals = new Map<string, Principal>();
  private stamp = '';
  private listener: ((change: UsersChange) => void) | undefined;
  private watcher: FSWatcher | undefined;
  private settle: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(path: string, log: UsersLog) {
    this.path = path;
    this.log = log;
  }

  /** Reads the file; throws EDGETWIN_ERR_USERS_FILE (start-up refuses a bad file). */
  load(): void {
    let text: string;
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = stampOf(st);
      // A hash is not a password, but it is what an offline guesser needs (as ssh warns of keys).
      if ((st.mode & 0o077) !== 0) this.log.warn({ path: this.path }, 'the users file is readable by other users; chmod 600 it');
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw usersError(this.path, `cannot be read: ${(err as Error).message}`, err);
    }
    this.set(parseUsers(text, this.path), stamp);
  }

  /**
   * Re-reads the file if it changed since the last read. A file that became invalid is
   * reported and the previous users are kept, so a typo while editing locks nobody out.
   */
  async refresh(): Promise<void> {
    try {
      const st = await stat(this.path);
      if (stampOf(st) === this.stamp) return;
      // An empty file is one being written (`cat > users.yaml`), not one without users:
      // `users: {}` says that. The next change event or poll reads it again.
      if (st.size === 0 && this.entries.size > 0) return;
      this.load();
      this.log.info({ path: this.path, users: this.entries.size }, 'users file reloaded');
    } catch (err) {
      this.log.warn({ err, path: this.path }, 'users file not reloaded; the previous users stay in force');
    }
  }

  /**
   * Re-reads the file whenever it changes (fs.watch on its folder, since `edgetwin user add`
   * replaces the file by a rename, plus a poll) and reports what each reload took away, within
   * about SETTLE_MS of the write. Timers and the watcher do not keep the process alive.
   */
  watch(onChange: (change: UsersChange) => void): void {
    this.listener = onChange;
    const check = (): void => void this.refresh();
    try {
      const file = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name !== null && name !== file) return;
        clearTimeout(this.settle);
        this.settle = setTimeout(check, SETTLE_MS);
        this.settle.unref();
      });
      this.watcher.on('error', (err) => this.log.warn({ err, path: this.path }, 'cannot watch the users file; polling it instead'));
    } catch (err) {
      this.log.warn({ err, path: this.path }, 'cannot watch the users file; polling it instead');
    }
    this.poll = setInterval(check, POLL_MS);
    this.poll.unref();
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.settle);
    clearInterval(this.poll);
    this.listener = undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  entry(name: string): UserEntry | undefined {
    return this.entries.get(name);
  }

  principal(name: string): Principal | undefined {
    return this.principals.get(name);
  }

  private set(entries: Map<string, UserEntry>, stamp: string): void {
    const before = this.entries;
    this.entries = entries;
    this.principals = new Map([...entries].map(([name, e]) => [name, toPrincipal(name, e)]));
    this.stamp = stamp;
    // Whichever path reloaded (the watcher or a CONNECT), the listener hears of it.
    const change = this.listener && diffUsers(before, entries);
    if (change && (change.removed.size > 0 || change.narrowed.size > 0)) this.listener?.(change);
  }
}

/** Changes when the file is rewritten in place (mtime, size) or replaced by a rename (inode). */
function stampOf(st: { ino: number; mtimeMs: number; size: number }): string {
  return `${st.ino}:${st.mtimeMs}:${st.size}`;
}

function readDocument(path: string): Document {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw usersError(path, `cannot be read: ${(err as Error).message}`, err);
    text = '# edgetwin users (docs/security.md). Written by `edgetwin user add`; passwords are scrypt hashes.\nusers:\n';
  }
  parseUsers(text, path); // refuse to rewrite a file that is already invalid
  const parsed = parseDocument(text);
  // An empty file (or one of only comments) has no root mapping to add to.
  const doc: Document = isMap(parsed.contents) ? parsed : new Document({ users: {} });
  const users = doc.get('users');
  if (!isMap(users)) doc.set('users', doc.createNode({}));
  // One user per block, whatever style an empty `users: {}` was written in.
  const map = doc.get('users');
  if (isMap(map)) map.flow = false;
  return doc;
}

/** Writes atomically (temp file + rename) and owner-only, so a crash never leaves half a file. */
function writeDocument(path: string, doc: Document): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    // lineWidth 0: a hash is never folded across lines.
    writeFileSync(tmp, doc.toString({ lineWidth: 0 }), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    throw usersError(path, `cannot be written: ${(err as Error).message}`, err);
  }
}

/** Adds or replaces a user, keeping the file's comments and other entries. */
export function writeUser(path: string, name: string, entry: UserEntry): void {
  checkUserEntry(name, entry, path);
  const doc = readDocument(path);
  doc.setIn(['users', name], doc.createNode(entry));
  writeDocument(path, doc);
}

/** Removes a user; false if there was none of that name. */
export function deleteUser(path: string, name: string): boolean {
  const doc = readDocument(path);
  if (!doc.hasIn(['users', name])) return false;
  doc.deleteIn(['users', name]);
  writeDocument(path, doc);
  return true;
}

/** The users of a file without their hashes (for `edgetwin user list`). */
export function listUsers(path: string): Array<{ name: string; role: Role; password: boolean; protocols: readonly string[]; devices: readonly string[] }> {
  const doc = readDocument(path);
  return [...parseUsers(doc.toString(), path)].map(([name, e]) => ({
    name,
    role: e.role,
    password: e.password !== undefined,
    protocols: e.protocols ?? [],
    devices: e.devices ?? [],
  }));
}
