/**
 * A batch counts its cancelled commands on its row, counted by the cancel, so retention
 * pruning them does not make them count as completed (see BatchStore). Existing batches
 * start from the cancelled commands still there, or from their final counts if those
 * say more (some were pruned already).
 */
export const up = `
ALTER TABLE $SCHEMA.batches ADD COLUMN cancelled integer NOT NULL DEFAULT 0;
UPDATE $SCHEMA.batches b SET cancelled = GREATEST(
  coalesce((b.final_counts->>'cancelled')::int, 0),
  (SELECT count(*) FROM $SCHEMA.commands c WHERE c.batch_id = b.id AND c.state = 'cancelled'));
`;
