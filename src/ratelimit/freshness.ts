/**
 * How old a token may be when its handler starts.
 *
 * The store grants a token at one moment and the handler starts at a later one: the
 * answer's trip back, and any stall of the worker's process meanwhile (a garbage
 * collection, a core taken by another process). Tokens granted before a stall and used
 * after it start next to tokens granted after it, so starts could bunch beyond what the
 * bucket allows: a process stalled for 350 ms at 20/s puts 7 extra starts in one second.
 *
 * So a token is used only if its handler starts within `freshMs` of the moment the worker
 * asked for it (which is before the store granted it, so no clock but the worker's own
 * is read). Then every start lies within freshMs after its grant, and the starts in any
 * window W are at most the grants in W + freshMs: burst + limit × (W + freshMs) / per,
 * rounded down. freshMs is below one token's interval (90 % of it), so the rounding takes
 * the extra away whenever limit × W / per is whole: exactly burst + limit × W / per.
 *
 * It is at least 25 ms, since a store's answer can take that long on a busy machine, so
 * above 36 tokens a second the bound has floor(limit × 25 ms / per) tokens of slack; and
 * at most 1 s, which slow buckets (a few an hour) never need more of.
 */
import type { BucketSpec } from '../core/rate-limit-spec.js';

export const MIN_FRESH_MS = 25;
export const MAX_FRESH_MS = 1000;

export function freshMs(spec: BucketSpec): number {
  const tokenMs = spec.perMs / spec.limit;
  return Math.min(MAX_FRESH_MS, Math.max(MIN_FRESH_MS, 0.9 * tokenMs));
}
