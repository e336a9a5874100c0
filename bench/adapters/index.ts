import type { Adapter, Store } from './adapter.js';
import type * as Variants from './dispatchbox-variants.js';

interface SystemEntry {
  store: Store;
  /** Ours or a peer; ratios compare ours with each peer on the same store. */
  ours: boolean;
  /** On the PostgreSQL server: the schema its tables live in (the sustained run's size samples). */
  schema?: string;
  load: () => Promise<{ default: new () => Adapter }>;
  /** A variant of one of ours (metrics and tracing on or off): runs only when named in --only. */
  variant?: true;
}

const variant = (name: keyof typeof Variants) => () =>
  import('./dispatchbox-variants.js').then((m) => ({ default: m[name] }));

/** Every benchmarked system, by name. Adding a peer: one adapter file and one line here. */
export const SYSTEMS = {
  'dispatchbox-pglite': {
    store: 'pglite',
    ours: true,
    load: () => import('./dispatchbox-pglite.js'),
  },
  'pgboss-pglite': { store: 'pglite', ours: false, load: () => import('./pgboss-pglite.js') },
  'dispatchbox-postgres': {
    store: 'postgres',
    ours: true,
    schema: 'bench_dispatchbox',
    load: () => import('./dispatchbox-postgres.js'),
  },
  graphile: {
    store: 'postgres',
    ours: false,
    schema: 'graphile_worker',
    load: () => import('./graphile.js'),
  },
  'pgboss-postgres': {
    store: 'postgres',
    ours: false,
    schema: 'pgboss',
    load: () => import('./pgboss-postgres.js'),
  },
  'dispatchbox-redis': { store: 'redis', ours: true, load: () => import('./dispatchbox-redis.js') },
  bullmq: { store: 'redis', ours: false, load: () => import('./bullmq.js') },
  'dispatchbox-pglite-observed': {
    store: 'pglite',
    ours: true,
    variant: true,
    load: variant('PGliteObserved'),
  },
  'dispatchbox-pglite-dark': {
    store: 'pglite',
    ours: true,
    variant: true,
    load: variant('PGliteDark'),
  },
  'dispatchbox-postgres-observed': {
    store: 'postgres',
    ours: true,
    variant: true,
    load: variant('PostgresObserved'),
  },
  'dispatchbox-postgres-dark': {
    store: 'postgres',
    ours: true,
    variant: true,
    load: variant('PostgresDark'),
  },
  'dispatchbox-redis-observed': {
    store: 'redis',
    ours: true,
    variant: true,
    load: variant('RedisObserved'),
  },
  'dispatchbox-redis-dark': {
    store: 'redis',
    ours: true,
    variant: true,
    load: variant('RedisDark'),
  },
} satisfies Record<string, SystemEntry>;

export type SystemName = keyof typeof SYSTEMS;

/** Every system, variants included. */
export const ALL_SYSTEM_NAMES = Object.keys(SYSTEMS) as SystemName[];

/** The systems a run takes when none are named: ours and the peers, no variants. */
export const SYSTEM_NAMES = ALL_SYSTEM_NAMES.filter((s) => !(SYSTEMS[s] as SystemEntry).variant);

export function isSystemName(name: string): name is SystemName {
  return Object.hasOwn(SYSTEMS, name);
}

export function systemInfo(name: SystemName): SystemEntry {
  return SYSTEMS[name];
}

export async function loadAdapter(name: SystemName): Promise<Adapter> {
  const module = await SYSTEMS[name].load();
  return new module.default();
}
