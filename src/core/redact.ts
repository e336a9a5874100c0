/**
 * Credentials out of any text that may hold a connection URL: a configuration error, a
 * start-up banner, a driver's error message, a log line. It works on the text, not on a
 * parsed URL, because the URLs that most need it are the ones that do not parse: a
 * password with a '/' or '@' in it, a mistyped scheme (`postgress://u:p@h`, `postgres//u:p@h`).
 *
 * - `user:password@` → `user:***@`, where the password runs to the last '@' of the word,
 *   so '/', ':', '@' and '%2F' inside it are covered;
 * - `scheme://:password@` (Redis) → `scheme://:***@`;
 * - `password=`, `pass=`, `sslpassword=` and similar query parameters → `password=***`.
 */
export function redactSecrets(text: string): string {
  return text.replace(WORD, redactWord);
}

/** A run of characters that can belong to a URL (a password may hold brackets). */
const WORD = /[^\s"'`<>]+/g;
/** `?password=…` in a URL, or `password=…` as a key-value connection string writes it. */
const SECRET_PARAM = /((?:^|[?&;])(?:[a-z_]*pass(?:word)?|secret|token|auth|sslkey)=)[^&;#]*/gi;

function redactWord(word: string): string {
  let out = word.replace(SECRET_PARAM, '$1***');
  const at = out.lastIndexOf('@');
  if (at > 0) {
    // Whatever stands before the userinfo: a scheme with its slashes, well or badly typed
    // (without a slash, `name:` is the user name, not a scheme).
    const scheme = /^[([{]*[a-z][a-z0-9+.-]*:?\/+/i.exec(out)?.[0] ?? '';
    const userinfo = out.slice(scheme.length, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) {
      out = `${scheme}${userinfo.slice(0, colon)}:***${out.slice(at)}`;
    }
  }
  return out;
}
