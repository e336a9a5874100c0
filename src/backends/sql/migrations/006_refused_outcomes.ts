/**
 * The audit trail view, with a refused late outcome in mind: its record leaves the command
 * in the state it found it (from = to), so a refusal that finds the command completed is
 * not the completion's record, and the completion is still derived from the row.
 */
export const up = `
CREATE OR REPLACE VIEW $SCHEMA.audit_trail AS
SELECT a.id, a.command_id, a.at, a.started_at, a.from_state, a.to_state, a.attempt,
  a.worker_id, a.actor, a.reason, a.error
FROM $SCHEMA.audit a
UNION ALL
SELECT NULL::bigint, c.id, c.updated_at, c.started_at, 'in_progress', 'completed', c.attempts,
  c.worker_id, NULL, 'succeeded', NULL::jsonb
FROM $SCHEMA.commands c
WHERE c.state = 'completed'
  AND NOT EXISTS (
    SELECT 1 FROM $SCHEMA.audit a
    WHERE a.command_id = c.id AND a.to_state = 'completed'
      AND a.from_state IS DISTINCT FROM 'completed'
  );
`;
