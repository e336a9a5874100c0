import { DispatchboxPGlite } from './dispatchbox-pglite.js';
import { DispatchboxPostgres } from './dispatchbox-postgres.js';
import { DispatchboxRedis } from './dispatchbox-redis.js';

// Our systems with metrics and tracing on ('observed') and off ('dark'); see
// dispatchbox-observability.ts. Run only when named: `--only dispatchbox-redis-dark,…`.

export class PGliteObserved extends DispatchboxPGlite {
  override readonly name = 'dispatchbox-pglite-observed';
  protected override readonly observability = 'observed';
}
export class PGliteDark extends DispatchboxPGlite {
  override readonly name = 'dispatchbox-pglite-dark';
  protected override readonly observability = 'dark';
}
export class PostgresObserved extends DispatchboxPostgres {
  override readonly name = 'dispatchbox-postgres-observed';
  protected override readonly observability = 'observed';
}
export class PostgresDark extends DispatchboxPostgres {
  override readonly name = 'dispatchbox-postgres-dark';
  protected override readonly observability = 'dark';
}
export class RedisObserved extends DispatchboxRedis {
  override readonly name = 'dispatchbox-redis-observed';
  protected override readonly observability = 'observed';
}
export class RedisDark extends DispatchboxRedis {
  override readonly name = 'dispatchbox-redis-dark';
  protected override readonly observability = 'dark';
}
