/**
 * Counts of commands per domain, type and state, kept by the database with every change
 * to the commands table, so that reading them costs the same with 10 million commands of
 * history as with ten (SqlAdminQueries.countCommands).
 *
 * Three statement-level triggers read each statement's changed rows (its transition
 * tables) and append one row per (domain, type, state) the statement changed, holding
 * the net change. Every way a command moves is covered without a change to its query:
 * sends (INSERT and COPY), claims, settles, recovery, operator actions, batches, prune.
 * The table only ever gets rows appended by the triggers, never updated: no transition
 * waits for a lock on a counter held by another transaction, so counting adds no lock
 * waits and no deadlocks (a shared counter row updated by two transactions that each
 * change several counts, say two sends of different types in opposite orders, would be
 * one). A count is the sum of its rows; maintenance folds each count's rows into one
 * (foldCommandCounts in admin.ts), so the table stays about as long as the number of
 * counts. Rows appended by a transaction that rolls back vanish with it, so counts stay
 * exact.
 *
 * The counts start from the commands there at migration time, counted after the
 * triggers are created: CREATE TRIGGER locks the commands table against writes until
 * the migration commits (it waits for the writes under way to end), so no write falls
 * between the count and the triggers, and the writes queued behind the lock fire them.
 * (No LOCK TABLE of its own: the SQL of schemaSql may be run outside a transaction.)
 */
export const up = `
CREATE TABLE $SCHEMA.command_counts (
  domain text NOT NULL,
  type   text NOT NULL,
  state  text NOT NULL,
  n      bigint NOT NULL
) WITH (
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0
);

CREATE FUNCTION $SCHEMA.count_inserted_commands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO $SCHEMA.command_counts (domain, type, state, n)
  SELECT domain, type, state, count(*) FROM inserted GROUP BY domain, type, state;
  RETURN NULL;
END $$;

CREATE FUNCTION $SCHEMA.count_updated_commands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO $SCHEMA.command_counts (domain, type, state, n)
  SELECT domain, type, state, sum(n) FROM (
    SELECT domain, type, state, 1 AS n FROM after_update
    UNION ALL
    SELECT domain, type, state, -1 AS n FROM before_update
  ) changed
  GROUP BY domain, type, state HAVING sum(n) <> 0;
  RETURN NULL;
END $$;

CREATE FUNCTION $SCHEMA.count_deleted_commands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO $SCHEMA.command_counts (domain, type, state, n)
  SELECT domain, type, state, -count(*) FROM deleted GROUP BY domain, type, state;
  RETURN NULL;
END $$;

CREATE TRIGGER count_inserted AFTER INSERT ON $SCHEMA.commands
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION $SCHEMA.count_inserted_commands();
CREATE TRIGGER count_updated AFTER UPDATE ON $SCHEMA.commands
  REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
  FOR EACH STATEMENT EXECUTE FUNCTION $SCHEMA.count_updated_commands();
CREATE TRIGGER count_deleted AFTER DELETE ON $SCHEMA.commands
  REFERENCING OLD TABLE AS deleted
  FOR EACH STATEMENT EXECUTE FUNCTION $SCHEMA.count_deleted_commands();

INSERT INTO $SCHEMA.command_counts (domain, type, state, n)
SELECT domain, type, state, count(*) FROM $SCHEMA.commands GROUP BY domain, type, state;
`;
