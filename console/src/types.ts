/**
 * The API's JSON, as the page reads it (docs/console.md; the server's zod schemas in
 * src/console/schemas.ts are the source of truth). Times are ISO strings.
 */
export const STATES = [
  'pending',
  'in_progress',
  'completed',
  'troubleshooting',
  'cancelled',
] as const;
export type CommandState = (typeof STATES)[number];

export type Role = 'viewer' | 'operator';

export interface Me {
  user: { name: string; role: Role };
  authRequired: boolean;
}

export interface CommandError {
  code: string;
  message: string;
  details?: unknown;
}

export interface Command {
  id: string;
  domain: string;
  type: string;
  data: unknown;
  state: CommandState;
  priority: number;
  attempts: number;
  maxAttempts: number | null;
  runAt: string;
  createdAt: string;
  updatedAt: string;
  correlationId: string | null;
  causationId: string | null;
  batchId: string | null;
  idempotencyKey: string | null;
  headers: Record<string, string>;
  lastError: CommandError | null;
  result: unknown;
  workerId: string | null;
  leaseExpiresAt: string | null;
}

export interface AuditRecord {
  commandId: string;
  at: string;
  fromState: CommandState | null;
  toState: CommandState;
  attempt: number;
  workerId: string | null;
  actor: string | null;
  reason: string | null;
  error: CommandError | null;
  details: { dataBefore?: unknown; dataAfter?: unknown } | null;
}

export type Totals = Record<CommandState, number>;

export interface CountRow {
  domain: string;
  type: string;
  state: CommandState;
  count: number;
}

export interface OldestPending {
  domain: string;
  runAt: string;
  ageSeconds: number;
}

export interface Overview {
  counts: CountRow[];
  totals: Totals;
  oldestPending: OldestPending[];
  workers: { alive: number; stale: number; stopped: number };
}

export interface LiveCounts {
  at: string;
  counts: CountRow[];
  totals: Totals;
  oldestPending: OldestPending[];
}

export interface Sample {
  at: string;
  domain: string;
  completed: number;
  failed: number;
  retried: number;
  troubleshooting: number;
}

export interface Throughput {
  bucketMs: number;
  samples: Sample[];
}

export interface BatchCounts {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  cancelled: number;
  troubleshooting: number;
  failed: number;
}

export interface Batch {
  id: string;
  name: string | null;
  status: 'pending' | 'in_progress' | 'completed' | 'completed_with_failures';
  counts: BatchCounts;
  createdAt: string;
  finishedAt: string | null;
  completionCommandId: string | null;
}

export interface CommandDetail {
  command: Command;
  audit: AuditRecord[];
  causes: Command[];
  sent: Command[];
  correlated: number;
  batch: Batch | null;
}

export interface Job {
  id: string;
  kind: 'bulk-action' | 'load';
  label: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  total: number;
  done: number;
  failed: number;
  actor: string;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  result: unknown;
}

export interface FingerprintGroup {
  fingerprint: string;
  code: string;
  message: string;
  count: number;
  domains: string[];
  types: string[];
  oldestAt: string;
  newestAt: string;
  sampleId: string;
}

export interface WorkerEntry {
  id: string;
  host: string;
  pid: number;
  domains: string[];
  types: string[] | null;
  concurrency: number;
  startedAt: string;
  counters: Record<string, number>;
  version: string;
  status: 'alive' | 'stale' | 'stopped';
  lastSeenAt: string;
  silentMs: number;
  staleAfterMs: number;
  stoppedAt: string | null;
}

export type Action = 'retry' | 'cancel' | 'complete';

/** Every refusal the API gives: RFC 9457 problem details. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
  count?: number;
}
