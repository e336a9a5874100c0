/**
 * Troubleshooting grouped by error fingerprint: the error's code plus its message with
 * what varies from one command to the next masked (ids, numbers, e-mail addresses, times,
 * quoted values), so that "order 123 failed for 5f0c9a3e…" and "order 456 failed for
 * 77aa01bc…" are one group an operator can act on at once.
 */
import { createHash } from 'node:crypto';
import type { CommandBus } from '../bus/bus.js';
import type { TroubleshootingError } from '../backends/backend.js';
import type { Command, CommandError } from '../core/command.js';
import { type Applied, type ActionParams, applyToMatching, countMatching } from './bulk-actions.js';
import type { JobControl } from './types.js';

/** Commands read per page when grouping. */
const GROUP_PAGE = 5000;
/** Longest masked message kept: the start of a message says what it is. */
const MAX_MESSAGE = 500;

/**
 * The masks, in order: the wider patterns first, so a UUID is not read as numbers. Each
 * with a character its pattern cannot match without, checked first: a queue of thousands
 * is grouped on every read, and most messages hold no e-mail address, quote or hex.
 */
const MASKS: [RegExp, string, string][] = [
  [/[\w.+-]+@[\w-]+(\.[\w-]+)+/g, '<email>', '@'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>', '-'],
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?/g, '<time>', '-'],
  [/"(?:[^"\\\n]|\\.){0,200}"/g, '"<text>"', '"'],
  [/`[^`\n]{0,200}`/g, '`<text>`', '`'],
  // single quotes only around a whole value, not an apostrophe: "can't … don't"
  [/(^|[^\w'])'[^'\n]{0,200}'(?![\w'])/g, "$1'<text>'", "'"],
  [/\b0x[0-9a-f]+\b/gi, '<hex>', ''],
  // hex ids of 8 or more characters that hold a digit: not words like "deadbeef"… nor "accede"
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<hex>', ''],
  [/\d+(\.\d+)?/g, '<n>', ''],
];

export interface Fingerprinted {
  /** A short stable hash of the code and the masked message (12 hex digits). */
  fingerprint: string;
  code: string;
  /** The message with ids, numbers and values masked. */
  message: string;
}

/** The error's fingerprint (see the module's comment); a command with no error has one too. */
export function fingerprint(error: CommandError | null): Fingerprinted {
  const { code, message } = masked(error);
  return { fingerprint: hashOf(code, message), code, message };
}

function masked(error: CommandError | null): { code: string; message: string } {
  return { code: error?.code || 'UNKNOWN', message: maskMessage(error?.message ?? '') };
}

function hashOf(code: string, message: string): string {
  return createHash('sha1').update(`${code}\n${message}`).digest('hex').slice(0, 12);
}

/** The message with what varies masked, spaces collapsed, at most MAX_MESSAGE characters. */
export function maskMessage(message: string): string {
  let masked = String(message);
  for (const [pattern, mask, needs] of MASKS)
    if (needs === '' || masked.includes(needs)) masked = masked.replace(pattern, mask);
  return masked.replace(/\s+/g, ' ').trim().slice(0, MAX_MESSAGE);
}

export interface TroubleshootingGroup extends Fingerprinted {
  count: number;
  domains: string[];
  types: string[];
  /** When the group's first and latest commands landed in troubleshooting. */
  oldestAt: Date;
  newestAt: Date;
  /** One command of the group to open: the latest. */
  sampleId: string;
}

export interface GroupsParams {
  domain?: string | undefined;
  type?: string | undefined;
  /** Commands read at most; the groups of a larger queue are those of its oldest ones. */
  scanLimit?: number | undefined;
}

/**
 * The troubleshooting queue (of `domain`, `type`) grouped by fingerprint, largest group
 * first. Reads at most `scanLimit` commands, a domain at a time (each oldest first);
 * `truncated` says there were more.
 */
export async function groupTroubleshooting(
  bus: CommandBus,
  params: GroupsParams = {},
): Promise<{ groups: TroubleshootingGroup[]; scanned: number; truncated: boolean }> {
  const scanLimit = params.scanLimit ?? 50_000;
  const groups = new Map<string, GroupInProgress>();
  let scanned = 0;
  let truncated = false;
  const domains = await troubledDomains(bus, params.domain);
  for await (const page of errorPages(bus, domains, params.type)) {
    if (scanned + page.length > scanLimit) {
      page.length = scanLimit - scanned;
      truncated = true;
    }
    for (const command of page) addTo(groups, command);
    scanned += page.length;
    if (truncated) break;
  }
  const sorted = [...groups.values()]
    .sort((a, b) => b.count - a.count || a.oldestAt.getTime() - b.oldestAt.getTime())
    .map(({ domainSet, typeSet, ...group }) => ({
      ...group,
      domains: [...domainSet].sort(),
      types: [...typeSet].sort(),
    }));
  return { groups: sorted, scanned, truncated };
}

/**
 * The troubleshooting queue's errors, a page at a time, domain after domain. Each read goes
 * out before the page before it is grouped, so the store's answer and the masking overlap.
 */
async function* errorPages(
  bus: CommandBus,
  domains: string[],
  type: string | undefined,
): AsyncGenerator<TroubleshootingError[]> {
  const read = (domain: string, afterId: string | undefined) =>
    bus.troubleshootingErrors({ domain, type, afterId, limit: GROUP_PAGE });
  let index = 0;
  let pending = domains.length > 0 ? read(domains[0]!, undefined) : null;
  try {
    while (pending) {
      const page = await pending;
      if (page.length === GROUP_PAGE) pending = read(domains[index]!, page.at(-1)!.id);
      else pending = ++index < domains.length ? read(domains[index]!, undefined) : null;
      yield page;
    }
  } finally {
    // stopped early (the scan limit): the read already sent is not waited for
    pending?.catch(() => {});
  }
}

type GroupInProgress = TroubleshootingGroup & { domainSet: Set<string>; typeSet: Set<string> };

/** Counts the command into its group: keyed by code and masked message, hashed once per group. */
function addTo(groups: Map<string, GroupInProgress>, command: TroubleshootingError): void {
  const { code, message } = masked(command.lastError);
  const key = `${code}\n${message}`;
  const group = groups.get(key);
  if (!group) {
    groups.set(key, {
      fingerprint: hashOf(code, message),
      code,
      message,
      count: 1,
      domains: [],
      types: [],
      domainSet: new Set([command.domain]),
      typeSet: new Set([command.type]),
      oldestAt: command.updatedAt,
      newestAt: command.updatedAt,
      sampleId: command.id,
    });
    return;
  }
  group.count += 1;
  group.domainSet.add(command.domain);
  group.typeSet.add(command.type);
  if (command.updatedAt < group.oldestAt) group.oldestAt = command.updatedAt;
  if (command.updatedAt >= group.newestAt) {
    group.newestAt = command.updatedAt;
    group.sampleId = command.id;
  }
}

/**
 * The domains to walk: the one named, else those the store counts commands in
 * troubleshooting for. One walk per domain reads its troubleshooting queue through the
 * store's (domain, state) index; one walk of every domain at once would read the whole
 * history in id order on SQL, where a few thousand such commands sit among millions
 * finished (12 s for 20,000 among 10,000,000, bench/RESULTS.md).
 */
async function troubledDomains(bus: CommandBus, domain: string | undefined): Promise<string[]> {
  if (domain !== undefined) return [domain];
  const counts = await bus.counts();
  const domains = counts.filter((c) => c.state === 'troubleshooting' && c.count > 0);
  return [...new Set(domains.map((c) => c.domain))].sort();
}

export interface GroupScope {
  fingerprint: string;
  domain?: string | undefined;
  type?: string | undefined;
}

function groupWalk(scope: GroupScope, domain: string) {
  return {
    filter: { state: 'troubleshooting' as const, domain, type: scope.type },
    match: (command: Command) => fingerprint(command.lastError).fingerprint === scope.fingerprint,
  };
}

/** How many troubleshooting commands (of the scope's domain and type) have this fingerprint. */
export async function countGroup(bus: CommandBus, scope: GroupScope): Promise<number> {
  let count = 0;
  for (const domain of await troubledDomains(bus, scope.domain)) {
    const { filter, match } = groupWalk(scope, domain);
    count += await countMatching(bus, filter, match);
  }
  return count;
}

/** A bulk action on the troubleshooting commands with this fingerprint (bulk-actions.ts). */
export async function applyToGroup(
  bus: CommandBus,
  params: ActionParams & GroupScope,
  job: JobControl,
): Promise<Applied> {
  const tally: Applied = { applied: 0, failed: 0 };
  for (const domain of await troubledDomains(bus, params.domain)) {
    if (job.signal.aborted) break;
    const { filter, match } = groupWalk(params, domain);
    // each domain's walk counts from zero: the job's progress goes on from the earlier ones
    const before = { ...tally };
    const progress = (done: number, failed = 0) =>
      job.progress(before.applied + before.failed + done, before.failed + failed);
    const applied = await applyToMatching(bus, { ...params, filter }, match, {
      signal: job.signal,
      progress,
    });
    tally.applied += applied.applied;
    tally.failed += applied.failed;
  }
  return tally;
}
