/**
 * The first schema. `$SCHEMA` is replaced by the quoted schema name.
 *
 * The claim path reads only the partial index on pending commands, so completed history
 * never slows a claim; in-progress leases have their own small index for recovery.
 * Audit rows carry no primary key: one index on (command_id, id) serves every read, and
 * each transition pays for one index insert instead of two.
 */
export const up = `
CREATE TABLE $SCHEMA.commands (
  id               uuid PRIMARY KEY,
  domain           text NOT NULL,
  type             text NOT NULL,
  state            text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'in_progress', 'completed', 'cancelled', 'troubleshooting')),
  priority         integer NOT NULL DEFAULT 0,
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL,
  run_at           timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  lease_token      uuid,
  lease_expires_at timestamptz,
  worker_id        text,
  correlation_id   text,
  causation_id     uuid,
  batch_id         uuid,
  idempotency_key  text,
  data             jsonb NOT NULL,
  result           jsonb,
  last_error       jsonb
) WITH (
  fillfactor = 85,
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 1
);

CREATE INDEX commands_claim ON $SCHEMA.commands (domain, priority DESC, run_at, id)
  WHERE state = 'pending';
CREATE INDEX commands_leases ON $SCHEMA.commands (lease_expires_at)
  WHERE state = 'in_progress';
CREATE UNIQUE INDEX commands_idempotency ON $SCHEMA.commands (domain, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX commands_batch ON $SCHEMA.commands (batch_id, state)
  WHERE batch_id IS NOT NULL;
CREATE INDEX commands_troubleshooting ON $SCHEMA.commands (domain, type, updated_at)
  WHERE state = 'troubleshooting';
-- Retention deletes by age; a BRIN index costs almost nothing per write on a table whose
-- newest rows are also its last-updated ones.
CREATE INDEX commands_updated_brin ON $SCHEMA.commands USING brin (updated_at);

CREATE TABLE $SCHEMA.audit (
  id          bigint GENERATED ALWAYS AS IDENTITY,
  command_id  uuid NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  from_state  text,
  to_state    text NOT NULL,
  attempt     integer NOT NULL,
  worker_id   text,
  actor       text,
  reason      text,
  error       jsonb
) WITH (
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.05
);
CREATE INDEX audit_command ON $SCHEMA.audit (command_id, id);

CREATE TABLE $SCHEMA.batches (
  id                    uuid PRIMARY KEY,
  name                  text,
  total                 integer NOT NULL,
  on_complete           jsonb,
  created_at            timestamptz NOT NULL DEFAULT now(),
  finished_at           timestamptz,
  status                text,
  completion_command_id uuid
);
CREATE INDEX batches_open ON $SCHEMA.batches (created_at) WHERE finished_at IS NULL;
`;
