import { Command } from 'commander';
import { schemaSql } from '../../backends/sql/migrator.js';
import { redact } from '../../config/index.js';
import { configOf, withBus, type CliIo } from '../context.js';

export function migrateCommand(io: CliIo): Command {
  return new Command('migrate')
    .description('apply pending migrations to the store (safe to run again)')
    .option(
      '--print-sql',
      'print the schema as SQL instead, for your own migration tool; touches no database',
    )
    .action(async (options: { printSql?: boolean }, command: Command) => {
      const config = configOf(command, io);
      if (options.printSql) {
        io.out(schemaSql(config.schema));
        return;
      }
      await withBus(config, 'migrate', async () => {}, { migrate: true });
      const where = config.databaseUrl
        ? redact(config.databaseUrl)
        : `the embedded database in ${config.dataDir}`;
      io.out(`schema ${config.schema} is up to date in ${where}`);
    });
}
