import { readFileSync } from 'node:fs';

/** The variable that names a file holding a secret setting's value: `<VAR>_FILE`. */
export function secretFileVariable(env: string): string {
  return `${env}_FILE`;
}

/**
 * Reads a secret from the file a `<VAR>_FILE` variable names, as Kubernetes and Docker
 * mount secrets (one file per secret, often with a trailing newline). A file that cannot
 * be read is reported by its path and the system's reason; its content never appears in
 * a message.
 */
export function readSecretFile(
  variable: string,
  path: string,
): { value: string } | { problem: string } {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'this process may not read it'
          : code === 'EISDIR'
            ? 'it is a directory'
            : `reading it failed (${code ?? (error as Error).message})`;
    return {
      problem: `${variable} names ${path}, which cannot be read: ${why}. Point it at the file that holds the secret (a mounted Kubernetes or Docker secret)`,
    };
  }
  const value = content.replace(/(\r?\n)+$/, '');
  if (value.trim() === '') {
    return {
      problem: `${variable} names ${path}, which is empty; the file must hold the value itself`,
    };
  }
  return { value };
}
