/**
 * The worker registry (../workers.ts): one row per worker, refreshed by the worker every
 * few seconds. `expires_at` is the last refresh plus how long the store keeps a silent
 * or stopped worker; rows past it are deleted as workers refresh and list, through the
 * index on it. Whether a worker is alive or stale is computed on read from `last_seen_at`
 * and the database's clock, so nothing has to run for a crashed worker to show as stale.
 */
export const up = `
CREATE TABLE $SCHEMA.workers (
  id             text PRIMARY KEY,
  host           text NOT NULL,
  pid            integer NOT NULL,
  domains        jsonb NOT NULL,
  types          jsonb,
  concurrency    integer NOT NULL,
  version        text NOT NULL,
  counters       jsonb NOT NULL,
  started_at     timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  stale_after_ms integer NOT NULL,
  stopped_at     timestamptz,
  expires_at     timestamptz NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX workers_expiry ON $SCHEMA.workers (expires_at);
`;
