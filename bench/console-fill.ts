/**
 * Fills a PostgreSQL schema made by the real migrations with a retained history, in SQL
 * (INSERT ... SELECT generate_series), so that ten million commands take minutes rather
 * than the hours sending them would. The mix an operator's store holds after a week:
 *
 * - 10 domains x 5 types, spread by a hash of the row number (not by the number itself,
 *   so that no state falls into a single domain);
 * - 1 % cancelled, 0.2 % in troubleshooting with 30 error messages of very different
 *   frequencies, each carrying ids and numbers (what the fingerprint masks);
 * - the newest `pendingCount` commands pending (the queue a worker has not reached yet);
 * - the rest completed, a tenth of them after a retry;
 * - one command in ten in a batch of 1,000; one in five with a correlation id shared by
 *   five neighbours.
 *
 * Ids are UUIDv7 made from each row's creation time (the row number in the random bits),
 * so id order is time order, as the library's own ids give. The counts table (migration
 * 010) is recounted by the library once the rows are in, and the batches' rows are made
 * from their commands.
 */
/** What the fill needs of a store's connection: the library's SqlDriver fits. */
export interface Sql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export const DOMAINS = [
  'orders',
  'billing',
  'email',
  'shipping',
  'inventory',
  'users',
  'reports',
  'search',
  'media',
  'notifications',
];
export const TYPES = ['create', 'update', 'sync', 'notify', 'archive'];

/** [code, message template]: {n} becomes a number, {id} an id, both varying by row. */
export const ERRORS: [string, string][] = [
  ['TIMEOUT', 'handler timed out after {n} ms'],
  ['HTTP_502', 'upstream http://svc-{n}.internal:8080/v1/orders/{id} answered 502'],
  ['HTTP_503', 'payment gateway unavailable (request {id}, retry after {n} s)'],
  ['HTTP_429', 'rate limited by api.partner.example: {n} requests in the last minute'],
  ['DECLINED', 'card ending {n} declined for order {id}'],
  ['NOT_FOUND', 'customer {id} not found'],
  ['NOT_FOUND', 'product {id} not found in catalogue {n}'],
  ['VALIDATION', 'amount {n} exceeds the limit for account {id}'],
  ['VALIDATION', 'email address of user {id} is invalid'],
  ['CONFLICT', 'order {id} was modified by another process (version {n})'],
  ['ECONNRESET', 'socket hang up talking to 10.0.{n}.7:5432'],
  ['ECONNREFUSED', 'connect ECONNREFUSED 10.1.{n}.12:6379'],
  ['SMTP_550', 'mailbox {id}@example.com unavailable (550 {n})'],
  ['SMTP_421', 'service not available, closing channel after {n} messages'],
  ['S3_ERROR', 'PutObject media/{id}/{n}.jpg: SlowDown'],
  ['IMAGE', 'cannot decode image {id}: truncated at byte {n}'],
  ['DEADLOCK', 'deadlock detected: process {n} waits for ShareLock on transaction {id}'],
  ['QUOTA', 'tenant {id} over its quota of {n} exports per day'],
  ['PERMANENT', 'shipment {id} refers to warehouse {n}, which is closed'],
  ['PERMANENT', 'invoice {id} already paid'],
  ['PARSE', 'unexpected token at position {n} in feed {id}'],
  ['AUTH', 'token for integration {id} expired {n} s ago'],
  ['AUTH', 'signature mismatch on webhook {id}'],
  ['INDEX', 'search index shard {n} read-only; document {id} not indexed'],
  ['STOCK', 'sku {id} has {n} units, fewer than ordered'],
  ['REPORT', 'report {id} exceeded {n} rows'],
  ['PUSH', 'device token {id} unregistered ({n})'],
  ['FRAUD', 'order {id} scored {n} by the fraud check'],
  ['ADDRESS', 'postcode {n} unknown for order {id}'],
  ['UNKNOWN', 'TypeError: cannot read properties of undefined (reading {id}) at line {n}'],
];

export interface FillOptions {
  count: number;
  troubleshooting: number;
  pendingCount: number;
  /** Rows per INSERT statement. */
  chunk: number;
  log: (message: string) => void;
}

const DAY_MS = 86_400_000;

/** Inserts the commands (into an empty table), then the batches; the caller recounts. */
export async function fillCommands(db: Sql, schema: string, options: FillOptions): Promise<void> {
  const t = `"${schema}"`;
  const { count, pendingCount } = options;
  // the history spans six days (inside the default seven of retention), ending a minute ago
  const end = Date.now() - 60_000;
  const start = end - 6 * DAY_MS;
  const stepMs = (end - start) / count;
  // one command in `tsEvery` (among those not pending) is in troubleshooting
  const tsEvery = Math.max(2, Math.floor((count - pendingCount) / options.troubleshooting));
  const domains = `ARRAY[${DOMAINS.map((d) => `'${d}'`).join(',')}]`;
  const types = `ARRAY[${TYPES.map((d) => `'${d}'`).join(',')}]`;
  const codes = `ARRAY[${ERRORS.map(([c]) => `'${c}'`).join(',')}]`;
  const messages = `ARRAY[${ERRORS.map(([, m]) => `'${m}'`).join(',')}]`;
  for (let from = 1; from <= count; from += options.chunk) {
    const to = Math.min(count, from + options.chunk - 1);
    const began = performance.now();
    await db.query(
      `
INSERT INTO ${t}.commands (id, domain, type, state, priority, attempts, max_attempts,
  run_at, created_at, updated_at, started_at, worker_id, correlation_id, batch_id,
  data, result, last_error)
SELECT
  (lpad(to_hex(ms), 12, '0') || '7' || lpad(to_hex(i & 4095), 3, '0') || '8'
    || lpad(to_hex((i >> 12) & 4095), 3, '0') || lpad(to_hex(i), 12, '0'))::uuid,
  (${domains})[h % 10 + 1], (${types})[(h / 10) % 5 + 1], state,
  CASE WHEN (h / 7) % 20 = 0 THEN 10 ELSE 0 END,
  CASE state WHEN 'pending' THEN 0 WHEN 'troubleshooting' THEN 5
    WHEN 'cancelled' THEN 0 ELSE 1 + (h / 50 % 10 = 0)::int END,
  5, at, at, at + interval '40 ms', CASE WHEN state IN ('pending', 'cancelled') THEN NULL
    ELSE at + interval '5 ms' END,
  CASE WHEN state IN ('pending', 'cancelled') THEN NULL ELSE 'worker-' || (h % 4) END,
  CASE WHEN (i / 5) % 5 = 0 THEN 'corr-' || (i / 5) END,
  CASE WHEN i % 10000 < 1000 THEN
    ('00000000-0000-7000-8000-' || lpad(to_hex(i / 10000), 12, '0'))::uuid END,
  json_build_object('orderId', i, 'customer', 'cust-' || (h % 100000),
    'amount', (h % 100000) / 100.0, 'currency', 'EUR', 'note', 'bench row'),
  CASE state WHEN 'completed' THEN '{"ok":true}'::jsonb END,
  CASE WHEN state = 'troubleshooting' THEN jsonb_build_object(
    'code', (${codes})[e + 1],
    'message', replace(replace((${messages})[e + 1], '{n}', (h % 9973)::text),
      '{id}', substr(md5(i::text), 1, 10))) END
FROM (
  SELECT i, h, at, (extract(epoch FROM at) * 1000)::bigint AS ms,
    floor(sqrt((h / 50) % 900))::int AS e,
    CASE WHEN i > $2 THEN 'pending'
      WHEN i % $3 = 7 THEN 'troubleshooting'
      WHEN (h / 1000) % 100 = 11 THEN 'cancelled'
      ELSE 'completed' END AS state
  FROM (
    SELECT i, (i * 2654435761) % 4294967296 AS h,
      to_timestamp(($4::float8 + i * $5::float8) / 1000.0) AS at
    FROM generate_series($1::bigint, $6::bigint) AS i
  ) n
) r`,
      [from, count - pendingCount, tsEvery, start, stepMs, to],
    );
    options.log(
      `  rows ${from.toLocaleString('en')}..${to.toLocaleString('en')} in ${((performance.now() - began) / 1000).toFixed(1)} s`,
    );
  }
  // the batches' own rows, from their commands (one in ten commands, in batches of 1,000)
  await db.query(`
INSERT INTO ${t}.batches (id, name, total, created_at, finished_at, status, cancelled)
SELECT batch_id, 'bench batch', count(*), min(created_at),
  CASE WHEN bool_or(state = 'pending') THEN NULL ELSE max(updated_at) END,
  CASE WHEN bool_or(state = 'pending') THEN NULL
    WHEN bool_and(state = 'completed') THEN 'completed'
    ELSE 'completed_with_failures' END,
  count(*) FILTER (WHERE state = 'cancelled')
FROM ${t}.commands WHERE batch_id IS NOT NULL GROUP BY batch_id`);
}

/**
 * The id range of each batch (migration 011's first/last_command_id, which a batch keeps
 * from its creation so that listing its commands reads that range of the primary key),
 * for batches the fill made; nothing on a schema before that migration.
 */
export async function setBatchRanges(db: Sql, schema: string): Promise<void> {
  const t = `"${schema}"`;
  const has = (await db.query(
    `SELECT 1 FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = 'batches' AND column_name = 'first_command_id'`,
    [schema],
  )) as { rows: unknown[] };
  if (has.rows.length === 0) return;
  await db.query(`
UPDATE ${t}.batches b SET first_command_id = r.first, last_command_id = r.last
FROM (SELECT batch_id, min(id::text)::uuid AS first, max(id::text)::uuid AS last FROM ${t}.commands
      WHERE batch_id IS NOT NULL GROUP BY batch_id) r
WHERE b.id = r.batch_id AND b.first_command_id IS NULL`);
}
