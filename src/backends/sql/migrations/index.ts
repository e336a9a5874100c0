import * as m001 from './001_initial.js';
import * as m002 from './002_limits.js';
import * as m003 from './003_audit_trail.js';
import * as m004 from './004_batch_index.js';
import * as m005 from './005_handler_max_attempts.js';
import * as m006 from './006_refused_outcomes.js';
import * as m007 from './007_batch_cancelled.js';
import * as m008 from './008_worker_registry.js';
import * as m009 from './009_command_headers.js';
import * as m010 from './010_command_counts.js';
import * as m011 from './011_listing_indexes.js';
import * as m012 from './012_samples_audit_details.js';
import * as m013 from './013_outbox_dedup.js';

export interface Migration {
  version: number;
  name: string;
  /** SQL with `$SCHEMA` standing for the quoted schema name. */
  up: string;
}

/** Every migration, in order. A new one is a new numbered file added here. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: m001.up },
  { version: 2, name: 'limits', up: m002.up },
  { version: 3, name: 'audit trail view, json payloads', up: m003.up },
  { version: 4, name: 'batch index of waiting commands, final batch counts', up: m004.up },
  {
    version: 5,
    name: 'max attempts of the handler policy when the send names none',
    up: m005.up,
  },
  { version: 6, name: 'audit trail view with refused outcomes', up: m006.up },
  { version: 7, name: 'cancelled batch commands counted on the batch', up: m007.up },
  { version: 8, name: 'worker registry', up: m008.up },
  { version: 9, name: 'command headers', up: m009.up },
  { version: 10, name: 'command counts', up: m010.up },
  { version: 11, name: 'listing indexes, batch id ranges', up: m011.up },
  { version: 12, name: 'throughput samples, audit details', up: m012.up },
  { version: 13, name: 'outbox events, relay lease, stream dedup', up: m013.up },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
