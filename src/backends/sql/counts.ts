/**
 * The command counts (command_counts, migration 10): every statement that adds, moves or
 * removes commands appends, in the same statement, one row per (domain, type, state) it
 * changed, holding the net change. Rows are only ever appended (never a shared counter
 * row updated), so counting adds no lock waits and no deadlocks between transitions; a
 * count is the sum of its rows, and maintenance folds them (admin.ts, foldCountsSql).
 * Appended in the statement's own transaction, they vanish with it if it rolls back.
 *
 * Each builder returns a CTE named `counted` over `rows`, a CTE or FROM item of the
 * changed commands with columns domain and type (and state where named below).
 */

/** Commands inserted (all pending). */
export function countInserted(t: string, rows: string): string {
  return `counted AS (
  INSERT INTO ${t}.command_counts (domain, type, state, n)
  SELECT domain, type, 'pending', count(*) FROM ${rows} GROUP BY domain, type
)`;
}

/**
 * Commands moved from the state `from` to the state in column `to` of `rows` (never the
 * same state): + for the new state, - for the old, from one pass over the rows.
 */
export function countMoved(t: string, rows: string, from: string, to = 'state'): string {
  return `counted AS (
  INSERT INTO ${t}.command_counts (domain, type, state, n)
  SELECT g.domain, g.type, m.state, m.n
  FROM (SELECT domain, type, ${to} AS state, count(*) AS n FROM ${rows}
        GROUP BY 1, 2, 3) g,
    LATERAL (VALUES (g.state, g.n), ('${from}', -g.n)) AS m(state, n)
)`;
}

/** Commands deleted, their states in column state. */
export function countDeleted(t: string, rows: string): string {
  return `counted AS (
  INSERT INTO ${t}.command_counts (domain, type, state, n)
  SELECT domain, type, state, -count(*) FROM ${rows} GROUP BY domain, type, state
)`;
}

/**
 * Commands sent by COPY, which returns no rows: counted by the caller (CopyTally) and
 * passed as three arrays from parameter number `first` on (domains, types, how many of each).
 */
export function countCopied(t: string, first: number): string {
  return `counted AS (
  INSERT INTO ${t}.command_counts (domain, type, state, n)
  SELECT domain, type, 'pending', n
  FROM unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::bigint[]) AS u(domain, type, n)
)`;
}

/** Commands sent by COPY, per domain and type, as countCopied takes them. */
export class CopyTally {
  private readonly counts = new Map<string, { domain: string; type: string; n: number }>();

  add(commands: readonly { domain: string; type: string }[]): void {
    for (const c of commands) {
      const key = `${c.domain}\u0000${c.type}`;
      const count = this.counts.get(key);
      if (count) count.n += 1;
      else this.counts.set(key, { domain: c.domain, type: c.type, n: 1 });
    }
  }

  params(): [string[], string[], number[]] {
    const all = [...this.counts.values()];
    return [all.map((c) => c.domain), all.map((c) => c.type), all.map((c) => c.n)];
  }
}

/** One command moved by an operator ($1 domain, $2 type, $3 from, $4 to). */
export function countOperated(t: string): string {
  return `INSERT INTO ${t}.command_counts (domain, type, state, n)
VALUES ($1, $2, $3, -1), ($1, $2, $4, 1)`;
}
