import { ConfigurationError } from '../core/errors.js';
import { redactSecrets as redact } from '../core/redact.js';

const SCHEMES = ['postgres:', 'postgresql:', 'redis:', 'rediss:'];
const EXPECTED = 'postgres://user:password@host:5432/database or redis://host:6379';

/**
 * Says precisely what is wrong with a database URL, without echoing its password (or,
 * with `show: false`, anything of it). The
 * store itself checks the URL again when it opens (src/create.ts); this runs first so a
 * typo is reported before anything is started.
 */
export function checkDatabaseUrl(
  url: string,
  name = 'DISPATCHBOX_DATABASE_URL',
  options: { show?: boolean } = {},
): void {
  // A URL from a secret file is not shown at all, not even with its password masked.
  const shown = options.show === false ? '' : ` (${redact(url)})`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(
      `${name} is not a valid URL${shown}; expected ${EXPECTED}, or leave it unset for the embedded database. A '/', '@', ':' or '#' in the user name or password must be percent-encoded (%2F, %40, %3A, %23)`,
    );
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    throw new ConfigurationError(
      `${name} has the scheme ${JSON.stringify(parsed.protocol.replace(/:$/, ''))}; accepted are postgres://, postgresql://, redis:// and rediss:// (for example ${EXPECTED}), or leave it unset for the embedded database`,
    );
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) {
    throw new ConfigurationError(`${name} has no host${shown}; expected ${EXPECTED}`);
  }
}
