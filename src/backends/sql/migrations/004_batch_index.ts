/**
 * The batch index holds only the states a batch command waits or stops in (pending,
 * troubleshooting, cancelled), so that claims and completions, which move a command out
 * of them, add no entry to it (see BatchStore). A finished batch keeps its final counts.
 */
export const up = `
DROP INDEX $SCHEMA.commands_batch;
CREATE INDEX commands_batch_waiting ON $SCHEMA.commands (batch_id, state)
  WHERE batch_id IS NOT NULL AND state IN ('pending', 'troubleshooting', 'cancelled');
ALTER TABLE $SCHEMA.batches ADD COLUMN final_counts json;
`;
