/**
 * Indexes for the operator's and the console's listings (../list-commands.ts), so that a
 * filtered page stays an index read in id order with millions of commands retained.
 *
 * Each is partial, on what is rare or set only on some commands: an update of a command
 * writes an entry in every index whose predicate the new row meets (no update is HOT, the
 * state being in index predicates), so an index of every command would cost each claim
 * and each completion one more entry. The troubleshooting and cancelled ones take entries
 * only when a command enters those states; correlation and causation only for commands
 * that carry one. A command sent without a correlation id has its own id as one, so the
 * correlation index leaves those out (a listing finds that one command by its id): it
 * holds only commands of a chain, not every command. Completed and pending commands of a domain are listed through the
 * primary key (dense in a busy domain) and the claim index. The stopped states' index
 * leads with the domain: with an index of their ids alone beside it, the planner walked
 * that one for a domain with none in troubleshooting (every stopped command, 0.6 s of
 * 60,000 on 10 million), and a listing of all domains reads the primary key, where
 * stopped commands are dense, or sorts the few there are.
 *
 * A batch's commands are listed through the primary key within the range of their ids,
 * which the batch row keeps from its creation (a batch gains no command after it): no
 * index of batch commands in every state, which slowed a batch's drain by 30% (see
 * BatchStore). Batches created before this migration have no range and are scanned.
 */
export const up = `
CREATE INDEX commands_correlation ON $SCHEMA.commands (correlation_id, id)
  WHERE correlation_id <> id::text;
CREATE INDEX commands_causation ON $SCHEMA.commands (causation_id, id)
  WHERE causation_id IS NOT NULL;
CREATE INDEX commands_stopped ON $SCHEMA.commands (domain, state, id)
  WHERE state IN ('troubleshooting', 'cancelled');
CREATE INDEX commands_troubleshooting_code ON $SCHEMA.commands ((last_error->>'code'), id)
  WHERE state = 'troubleshooting';
ALTER TABLE $SCHEMA.batches ADD COLUMN first_command_id uuid, ADD COLUMN last_command_id uuid;
`;
