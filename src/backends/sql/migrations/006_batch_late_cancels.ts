/**
 * A finished batch's members cancelled after its finish (only members then in
 * troubleshooting can be), so its live cancelled count survives retention pruning the
 * cancelled commands (see BatchStore).
 */
export const up = `
ALTER TABLE $SCHEMA.batches ADD COLUMN cancelled_after_finish integer NOT NULL DEFAULT 0;
`;
