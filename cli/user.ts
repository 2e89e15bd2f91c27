// `edgetwin user add|remove|list`: the users file the broker authenticates against
// (eventbus/auth/users.ts, docs/security.md). The password comes from stdin (piped, or typed
// at a prompt without echo) or from --password, and is stored only as a scrypt hash.

import { Command } from 'commander';
import { edgetwinError } from '../errors.js';
import { deleteUser, hashPassword, isValidUserName, listUsers, ROLES, writeUser, type Role, type UserEntry } from '../eventbus/index.js';

export interface UserAddOptions {
  readonly role: string;
  readonly file: string;
  /** The password; false for a certificate-only user (`--no-password`); undefined: read stdin. */
  readonly password?: string | false;
  readonly protocols?: string;
  readonly devices?: string;
}

const list = (csv: string | undefined): string[] | undefined => csv?.split(',').map((s) => s.trim()).filter(Boolean);

/** Reads stdin to its end (a pipe), dropping one trailing newline. */
async function readPiped(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Prompts on stderr and reads one line from a terminal without echoing it. */
function readHidden(stdin: NodeJS.ReadStream, prompt: string): Promise<string> {
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let typed = '';
  return new Promise((resolve, reject) => {
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(edgetwinError('EDGETWIN_ERR_CLI_USAGE', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPassword(name: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readPiped(stdin);
  const first = await readHidden(stdin, `password for ${name}: `);
  const again = await readHidden(stdin, 'again: ');
  if (first !== again) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', 'the passwords differ');
  return first;
}

export async function userAdd(name: string, opts: UserAddOptions): Promise<void> {
  if (!isValidUserName(name)) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `"${name}" is not a user name (1-128 letters, digits, . _ @ : -)`);
  if (!(ROLES as readonly string[]).includes(opts.role)) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `--role must be one of ${ROLES.join(', ')}`);
  const protocols = list(opts.protocols);
  const devices = list(opts.devices);
  let hash: string | undefined;
  if (opts.password !== false) {
    const password = opts.password ?? (await readPassword(name));
    if (password.length === 0) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', 'the password is empty (use --no-password for a user that only has a client certificate)');
    hash = await hashPassword(password);
  }
  const entry: UserEntry = {
    role: opts.role as Role,
    ...(hash !== undefined ? { password: hash } : {}),
    ...(protocols ? { protocols } : {}),
    ...(devices ? { devices } : {}),
  };
  writeUser(opts.file, name, entry);
  process.stdout.write(`user ${name} (${opts.role}) written to ${opts.file}\n`);
}

/** Adds `user add|remove|list` to the program. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage the users file the MQTT broker authenticates against');
  const fileOption = (cmd: Command): Command => cmd.option('-f, --file <path>', 'the users file (mqtt.auth.usersFile)', 'users.yaml');
  fileOption(
    user
      .command('add <name>')
      .description('add or replace a user; the password is read from stdin unless --password is given')
      .requiredOption('-r, --role <role>', `one of ${ROLES.join(', ')}`)
      .option('-p, --password <password>', 'the password (visible to other local users in the process list: prefer stdin)')
      .option('--no-password', 'no password: the user authenticates with a TLS client certificate whose CN is its name')
      .option('--protocols <list>', 'mapper: comma-separated protocolNames whose devices it serves')
      .option('--devices <list>', 'comma-separated <namespace>/<name>: a mapper serves these too; an app or writer sees only these'),
  ).action(async (name: string, opts: UserAddOptions) => userAdd(name, opts));
  fileOption(user.command('remove <name>').description('remove a user')).action((name: string, opts: { file: string }) => {
    if (!deleteUser(opts.file, name)) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', `no user ${name} in ${opts.file}`);
    process.stdout.write(`user ${name} removed from ${opts.file}\n`);
  });
  fileOption(user.command('list').description('list users and roles (never hashes)')).action((opts: { file: string }) => {
    for (const u of listUsers(opts.file)) {
      const scope = [...u.protocols.map((p) => `protocol ${p}`), ...u.devices].join(', ');
      process.stdout.write(`${u.name}\t${u.role}\t${u.password ? 'password' : 'certificate only'}${scope ? `\t${scope}` : ''}\n`);
    }
  });
}
