/**
 * Counts of commands per domain, type and state, so that reading them costs the same with
 * 10 million commands of history as with ten (SqlAdminQueries.countCommands). Every
 * statement that adds, moves or removes commands appends its net changes here in the
 * same statement (counts.ts says how); a count is the sum of its rows, and maintenance
 * folds them into one per count.
 *
 * (Statement-level triggers with transition tables would count every write, from any
 * code, without a change to a query; but on the embedded store, in CPU time against no
 * counting, they cost 25-34% of a single send, where these statements cost 0-13%: each
 * trigger captures every changed row, twice for an update, and runs a PL/pgSQL call.)
 *
 * The counts start from the commands there at migration time, counted under a lock that
 * keeps writes out until the migration commits. Processes of an older version still
 * running after it (a rolling upgrade) do not count what they change: stop them before
 * migrating, or recount after (SqlAdminQueries.recountCommands).
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

${recountSql('$SCHEMA')}
`;

/**
 * Counts the commands afresh, under a lock that keeps writes out until the count commits
 * (reads go on). One DO statement, so that the lock covers the count also where the SQL
 * runs outside a transaction (schemaSql piped into psql). It reads the whole table: for
 * a migration or an operator's repair, never for a read of the counts.
 */
export function recountSql(t: string): string {
  return `DO $recount$ BEGIN
  LOCK TABLE ${t}.commands IN SHARE MODE;
  DELETE FROM ${t}.command_counts;
  INSERT INTO ${t}.command_counts (domain, type, state, n)
  SELECT domain, type, state, count(*) FROM ${t}.commands GROUP BY domain, type, state;
END $recount$;`;
}
