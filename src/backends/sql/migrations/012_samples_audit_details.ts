/**
 * Throughput samples (../samples.ts): per 10-second bucket and domain, the attempts that
 * ended and how, added to by every worker. The primary key starts with the bucket, so a
 * read of the last hour and the retention delete both walk one end of its index.
 *
 * The audit gains `details`: what a transition changed besides the state (an edited
 * payload before a retry: { dataBefore, dataAfter }). The view reads it through; the
 * completions it derives from command rows have none.
 */
export const up = `
CREATE TABLE $SCHEMA.throughput_samples (
  at              timestamptz NOT NULL,
  domain          text NOT NULL,
  completed       bigint NOT NULL DEFAULT 0,
  failed          bigint NOT NULL DEFAULT 0,
  retried         bigint NOT NULL DEFAULT 0,
  troubleshooting bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (at, domain)
);

ALTER TABLE $SCHEMA.audit ADD COLUMN details jsonb;

CREATE OR REPLACE VIEW $SCHEMA.audit_trail AS
SELECT a.id, a.command_id, a.at, a.started_at, a.from_state, a.to_state, a.attempt,
  a.worker_id, a.actor, a.reason, a.error, a.details
FROM $SCHEMA.audit a
UNION ALL
SELECT NULL::bigint, c.id, c.updated_at, c.started_at, 'in_progress', 'completed', c.attempts,
  c.worker_id, NULL, 'succeeded', NULL::jsonb, NULL::jsonb
FROM $SCHEMA.commands c
WHERE c.state = 'completed'
  AND NOT EXISTS (
    SELECT 1 FROM $SCHEMA.audit a
    WHERE a.command_id = c.id AND a.to_state = 'completed'
      AND a.from_state IS DISTINCT FROM 'completed'
  );
`;
