import { activateScript, insertScript, unstageScript } from './insert.js';
import { batchBeginScript, batchCommitScript, batchFinishScript } from './batch.js';
import { claimScript } from './claim.js';
import { listScript, pruneScript } from './housekeeping.js';
import { acquireSlotScript, takeTokenScript } from './limits.js';
import { operateScript } from './operate.js';
import { recoverScript, renewScript, settleScript } from './settle.js';
import { trimTicketsScript } from './tickets.js';

export { FIELD_SEPARATOR, RECORD_END } from './settle.js';

/** Every Lua script, registered once per connection (EVALSHA, loaded on first use). */
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
  batchBegin: batchBeginScript,
  batchCommit: batchCommitScript,
  batchFinish: batchFinishScript,
  takeToken: takeTokenScript,
  acquireSlot: acquireSlotScript,
  trimTickets: trimTicketsScript,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
