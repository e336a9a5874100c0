import type { Redis } from 'ioredis';
import { SchemaVersionError } from '../../core/errors.js';
import { SCHEMA_VERSION, type DomainKeys, type GlobalKeys } from './keys.js';
import { runScript } from './scripts/runner.js';

/**
 * The version of the key layout, kept under GlobalKeys.schema. Layout 1 counted commands
 * per state only; layout 2 counts them per type and state (keys.ts, `counts`).
 *
 * Redis keys are made on first write, so there is nothing to create: a store without a
 * version and without commands is simply marked with this layout, and sending marks it
 * before a command's domain is first registered (sending.ts). So a store with commands
 * and no version was written by layout 1.
 */

/**
 * Brings the layout to SCHEMA_VERSION. The step from 1 recounts every domain's commands
 * (scripts/counts.ts: one atomic script per domain, exact, safe to repeat, so several
 * processes migrating at once agree). Workers of layout 1 must be stopped first: their
 * transitions are not counted per type.
 */
export async function migrateLayout(
  client: Redis,
  keys: GlobalKeys,
  keysOf: (domain: string) => DomainKeys,
): Promise<void> {
  const version = await client.get(keys.schema);
  if (version === SCHEMA_VERSION) return;
  if (version !== null && version !== '1') return checkLayout(client, keys);
  for (const domain of await client.smembers(keys.domains)) {
    const k = keysOf(domain);
    await runScript(client, 'rebuildCounts', [k.ids, k.counts], [k.base]);
  }
  await client.set(keys.schema, SCHEMA_VERSION);
}

/** Throws SchemaVersionError, saying what to do, unless the keys are of this layout. */
export async function checkLayout(client: Redis, keys: GlobalKeys): Promise<void> {
  let version = await client.get(keys.schema);
  if (version === null) {
    if ((await client.scard(keys.domains)) > 0) version = '1';
    else if (await client.set(keys.schema, SCHEMA_VERSION, 'NX')) return;
    else version = await client.get(keys.schema);
  }
  if (version === '1') {
    throw new SchemaVersionError(
      `the Redis keys under prefix ${keys.prefix} are layout version 1, this Dispatchbox needs ${SCHEMA_VERSION}: stop the workers of the older Dispatchbox and run \`dispatchbox migrate\` (or start with migrate: true / DISPATCHBOX_MIGRATE=true), which recounts the commands once`,
    );
  }
  if (version !== null && version !== SCHEMA_VERSION) {
    throw new SchemaVersionError(
      `the Redis keys under prefix ${keys.prefix} are layout version ${version}, and this Dispatchbox reads version ${SCHEMA_VERSION}; upgrade Dispatchbox or use another prefix`,
    );
  }
}
