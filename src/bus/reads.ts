import type { Command } from '../core/command.js';
import type {
  AdminQueries,
  CommandCount,
  TroubleshootingError,
  TroubleshootingErrorsParams,
} from '../backends/backend.js';
import type { CommandFilter, ListParams } from './params.js';

/** Commands read per page when counting by a filter the store keeps no count for. */
const COUNT_PAGE = 1000;

/** The bus's reads that a count is made from. */
export interface CountSources {
  counts(domain?: string): Promise<CommandCount[]>;
  list(params: ListParams): Promise<Command[]>;
}

/**
 * How many commands match `filter`: a filter of state, domain and type is read from the
 * store's counts; one that names an error code walks the matching commands, a page at a
 * time (an operator's question, never the hot path).
 */
export async function countMatching(bus: CountSources, filter: CommandFilter): Promise<number> {
  const { state, domain, type, ...rest } = filter;
  if (Object.values(rest).every((value) => value === undefined)) {
    let total = 0;
    for (const c of await bus.counts(domain))
      if ((type === undefined || c.type === type) && (state === undefined || c.state === state))
        total += c.count;
    return total;
  }
  let counted = 0;
  let afterId: string | undefined;
  for (;;) {
    const page = await bus.list({ ...filter, afterId, limit: COUNT_PAGE, order: 'asc' });
    counted += page.length;
    if (page.length < COUNT_PAGE) return counted;
    afterId = page.at(-1)!.id;
  }
}

/**
 * A page of a domain's troubleshooting queue, oldest first, each command's error alone:
 * from the store's lean read where it has one, else from its listing.
 */
export async function troubleshootingErrors(
  admin: AdminQueries,
  params: TroubleshootingErrorsParams,
): Promise<TroubleshootingError[]> {
  if (admin.listTroubleshootingErrors) return admin.listTroubleshootingErrors(params);
  const page = await admin.listCommands({ ...params, state: 'troubleshooting', order: 'asc' });
  return page.map(({ id, domain, type, updatedAt, lastError }) => ({
    id,
    domain,
    type,
    updatedAt,
    lastError,
  }));
}
