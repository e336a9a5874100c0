/**
 * Rate limits and concurrency caps shared by every worker of the store.
 *
 * A bucket is one row, updated by one upsert that locks it (see ../limits.ts). Besides
 * its tokens it keeps the spec of its last take, so retention can tell when it is full
 * again (and so equivalent to no row at all), and the outcome of that take: RETURNING
 * sees only the new row, and a refused take may leave the same tokens as a granted one.
 *
 * A slot is one row per running holder; it expires so that a crashed worker's slot frees
 * itself. Acquires of one key are serialised by an advisory lock on the key.
 */
export const up = `
CREATE TABLE $SCHEMA.rate_limit_buckets (
  key          text PRIMARY KEY,
  tokens       double precision NOT NULL,
  capacity     double precision NOT NULL,
  per_token_ms double precision NOT NULL,
  updated_at   timestamptz NOT NULL,
  granted      boolean NOT NULL
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);

CREATE TABLE $SCHEMA.concurrency_slots (
  key        text NOT NULL,
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (key, holder)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX concurrency_slots_expiry ON $SCHEMA.concurrency_slots (expires_at);
`;
