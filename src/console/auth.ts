/**
 * Who may use the console's API: bearer tokens (an operator's and a viewer's) and users
 * with scrypt-hashed passwords (HTTP Basic). With no credentials configured, the console
 * may run only on a loopback host, and then everyone is the local operator.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ConfigurationError } from '../core/errors.js';
import type { ConsoleRole, ConsoleUser } from './types.js';

/** A user of HTTP Basic auth: the name, the role and the scrypt hash of the password. */
export interface ConsoleUserRecord {
  name: string;
  role: ConsoleRole;
  /** `scrypt$<N>$<salt base64>$<hash base64>`, as `dispatchbox console hash-password` prints. */
  passwordHash: string;
}

export interface ConsoleAuthOptions {
  /** Bearer token of the operator role (DISPATCHBOX_CONSOLE_TOKEN). */
  token?: string | undefined;
  /** Bearer token of the read-only viewer role (DISPATCHBOX_CONSOLE_VIEWER_TOKEN). */
  viewerToken?: string | undefined;
  /** Basic auth users (DISPATCHBOX_CONSOLE_USERS). */
  users?: ConsoleUserRecord[] | undefined;
}

/** The cost of new hashes: 64 MiB of memory and about 0.2 s of one core per check. */
const SCRYPT_N = 2 ** 16;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const MIN_TOKEN = 16;
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const HASH_FORMAT = /^scrypt\$(\d{1,8})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function scryptKey(password: string, salt: Buffer, n: number, bytes: number): Promise<Buffer> {
  const options: ScryptOptions = {
    N: n,
    r: SCRYPT_R,
    p: SCRYPT_P,
    maxmem: 128 * n * SCRYPT_R * 2,
  };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, bytes, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/** The scrypt hash of `password` in the form DISPATCHBOX_CONSOLE_USERS takes. */
export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new ConfigurationError('the password is empty; give one');
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptKey(password, salt, SCRYPT_N, KEY_BYTES);
  return `scrypt$${SCRYPT_N}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches `passwordHash` (compared in constant time). */
export async function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  const parsed = parseHash(passwordHash);
  if (!parsed) return false;
  const key = await scryptKey(password, parsed.salt, parsed.n, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

function parseHash(text: string): { n: number; salt: Buffer; key: Buffer } | null {
  const match = HASH_FORMAT.exec(text);
  if (!match) return null;
  const n = Number(match[1]);
  // a power of two the check can afford (up to 1 GiB of memory)
  if (n < 2 ** 10 || n > 2 ** 20 || (n & (n - 1)) !== 0) return null;
  const salt = Buffer.from(match[2]!, 'base64');
  const key = Buffer.from(match[3]!, 'base64');
  return salt.length >= 8 && key.length >= 16 ? { n, salt, key } : null;
}

/**
 * DISPATCHBOX_CONSOLE_USERS: comma-separated `name:role:scrypt$N$salt$hash`. Errors name
 * the entry by position and name, never its hash.
 */
export function parseConsoleUsers(
  text: string,
  source = 'DISPATCHBOX_CONSOLE_USERS',
): ConsoleUserRecord[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return entries.map((entry, i) => {
    const [name = '', role = '', ...rest] = entry.split(':');
    const where = `${source}: entry ${i + 1}${USER_NAME.test(name) ? ` (${name})` : ''}`;
    return checkUser({ name, role: role as ConsoleRole, passwordHash: rest.join(':') }, where);
  });
}

function checkUser(user: ConsoleUserRecord, where: string): ConsoleUserRecord {
  const format =
    'name:role:scrypt$N$salt$hash (make the hash with: dispatchbox console hash-password)';
  if (!USER_NAME.test(user.name))
    throw new ConfigurationError(
      `${where}: the name must be 1 to 64 letters, digits or _ . @ -, starting with a letter or digit; entries are ${format}`,
    );
  if (user.role !== 'operator' && user.role !== 'viewer')
    throw new ConfigurationError(
      `${where}: the role must be operator or viewer; entries are ${format}`,
    );
  if (!parseHash(user.passwordHash))
    throw new ConfigurationError(
      `${where}: the password hash is not an scrypt hash; entries are ${format}`,
    );
  return user;
}

/** Whether `host` (where the console listens) is this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** Compares secrets in constant time whatever their lengths (digests of equal length). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** Checked passwords remembered (as digests) so a page's many requests cost one scrypt. */
const REMEMBERED = 256;

/** Checks credentials against the configured ones; built once per console. */
export class Authenticator {
  /** False only for the loopback console without credentials: everyone is the local operator. */
  readonly required: boolean;
  readonly basic: boolean;
  private readonly users = new Map<string, ConsoleUserRecord>();
  private readonly remembered = new Map<string, ConsoleUser>();
  /** scrypt checks under way: a flood of wrong passwords waits instead of taking every core. */
  private checking = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly auth: ConsoleAuthOptions,
    host: string,
  ) {
    checkToken(auth.token, 'auth.token (DISPATCHBOX_CONSOLE_TOKEN)');
    checkToken(auth.viewerToken, 'auth.viewerToken (DISPATCHBOX_CONSOLE_VIEWER_TOKEN)');
    if (auth.token !== undefined && auth.token === auth.viewerToken)
      throw new ConfigurationError(
        'DISPATCHBOX_CONSOLE_TOKEN and DISPATCHBOX_CONSOLE_VIEWER_TOKEN are the same; give the viewer a token of its own',
      );
    auth.users?.forEach((user, i) => {
      checkUser(user, `auth.users[${i}] (DISPATCHBOX_CONSOLE_USERS)`);
      if (this.users.has(user.name))
        throw new ConfigurationError(
          `auth.users (DISPATCHBOX_CONSOLE_USERS) names ${user.name} twice; give each user one entry`,
        );
      this.users.set(user.name, user);
    });
    this.basic = this.users.size > 0;
    this.required = this.basic || auth.token !== undefined || auth.viewerToken !== undefined;
    if (!this.required && !isLoopbackHost(host)) {
      throw new ConfigurationError(
        `the console listens on ${host}, beyond this machine, and no credentials are configured: set DISPATCHBOX_CONSOLE_TOKEN (a bearer token of 16 characters or more) or DISPATCHBOX_CONSOLE_USERS (users with hashed passwords), or listen on 127.0.0.1 (DISPATCHBOX_CONSOLE_HOST)`,
      );
    }
  }

  /** The user the Authorization header proves, or null (no header, or wrong credentials). */
  async authenticate(header: string | undefined): Promise<ConsoleUser | null> {
    if (!header) return null;
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (space < 0 || value.length === 0 || value.length > 4096) return null;
    if (scheme === 'bearer') return this.bearer(value);
    if (scheme === 'basic' && this.basic) return this.password(value);
    return null;
  }

  private bearer(token: string): ConsoleUser | null {
    // both compared, so the time taken does not tell which one matched
    const operator = this.auth.token !== undefined && sameSecret(token, this.auth.token);
    const viewer = this.auth.viewerToken !== undefined && sameSecret(token, this.auth.viewerToken);
    if (operator) return { name: 'operator', role: 'operator' };
    return viewer ? { name: 'viewer', role: 'viewer' } : null;
  }

  private async password(encoded: string): Promise<ConsoleUser | null> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const name = decoded.slice(0, colon);
    const record = this.users.get(name);
    if (!record) return null;
    const key = sha256(`${record.passwordHash}\0${decoded}`).toString('base64');
    const known = this.remembered.get(key);
    if (known) return known;
    if (!(await this.limited(() => verifyPassword(decoded.slice(colon + 1), record.passwordHash))))
      return null;
    const user: ConsoleUser = { name: record.name, role: record.role };
    if (this.remembered.size >= REMEMBERED)
      this.remembered.delete(this.remembered.keys().next().value!);
    this.remembered.set(key, user);
    return user;
  }

  private async limited<T>(check: () => Promise<T>): Promise<T> {
    while (this.checking >= 2) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.checking++;
    try {
      return await check();
    } finally {
      this.checking--;
      this.waiting.shift()?.();
    }
  }
}

function checkToken(token: string | undefined, name: string): void {
  if (token === undefined) return;
  if (typeof token !== 'string' || token.trim().length < MIN_TOKEN || /\s/.test(token))
    throw new ConfigurationError(
      `${name} must be at least ${MIN_TOKEN} characters without spaces (the value is not shown); make one with: openssl rand -hex 32`,
    );
}
