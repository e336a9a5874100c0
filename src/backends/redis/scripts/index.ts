import { batchBeginScript, batchCommitScript, batchFinishScript } from './batch.js';
import { claimScript } from './claim.js';
import { rebuildCountsScript } from './counts.js';
import { insertScript } from './insert.js';
import { acquireSlotScript, takeTokenScript } from './limits.js';
import { listScript } from './list.js';
import { oldestPendingScript } from './oldest.js';
import { operateScript } from './operate.js';
import { pruneScript } from './prune.js';
import { recoverScript } from './recover.js';
import { renewScript } from './renew.js';
import { settleScript } from './settle.js';
import { activateScript, unstageScript } from './staged.js';
import { trimTicketsScript } from './tickets.js';

export { FIELD_SEPARATOR, RECORD_END } from './settle.js';

/**
 * Every Lua script, registered once per connection (EVALSHA, loaded on first use). Each
 * file holds one transition, or one closely related group; the Lua they share is in
 * ./prelude.ts.
 */
export const SCRIPTS = {
  insert: insertScript,
  activate: activateScript,
  unstage: unstageScript,
  claim: claimScript,
  settle: settleScript,
  renew: renewScript,
  recover: recoverScript,
  operate: operateScript,
  prune: pruneScript,
  list: listScript,
  oldestPending: oldestPendingScript,
  rebuildCounts: rebuildCountsScript,
  batchBegin: batchBeginScript,
  batchCommit: batchCommitScript,
  batchFinish: batchFinishScript,
  takeToken: takeTokenScript,
  acquireSlot: acquireSlotScript,
  trimTickets: trimTicketsScript,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
