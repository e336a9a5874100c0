/**
 * A send that names no maxAttempts leaves `max_attempts` NULL: the retry policy of the
 * handler that runs the command decides, in the worker, not whatever the sending process
 * had registered. Each claim writes that policy's max attempts to `policy_max_attempts`,
 * so the store's own decision (a lease that expired on the last attempt goes to
 * troubleshooting) follows the handler too. Commands stored before this migration keep
 * the number their send resolved, as if they had named it.
 *
 * Both changes are catalogue-only: no row is rewritten.
 */
export const up = `
ALTER TABLE $SCHEMA.commands ALTER COLUMN max_attempts DROP NOT NULL;
ALTER TABLE $SCHEMA.commands ADD COLUMN policy_max_attempts integer;
`;
