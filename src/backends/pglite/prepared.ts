import { parse, protocol, type PGlite } from '@electric-sql/pglite';

type BackendMessage = Parameters<typeof parse.parseResults>[0][number];

interface Statement {
  name: string;
  /** The type of each parameter, as the server inferred it, to serialise the values. */
  paramTypes: number[];
  /** Prepended to each execution's messages, so the results parse without a describe. */
  rowDescription: BackendMessage | null;
}

/** Beyond this many distinct statements, the rest run unnamed (see PostgresDriver). */
const MAX_PREPARED = 200;
const JSON_OID = 114;
/** Statement names are per connection: drivers sharing one PGlite must not collide. */
let drivers = 0;

/**
 * Named prepared statements on PGlite, which its query API does not offer: `query()`
 * parses and plans the statement on every call, and makes six trips into the
 * WebAssembly module for it (parse, describe, bind, describe, execute, sync). A claim of
 * one command spent 0.25 ms planning and 0.35 ms in those trips against 0.13 ms running.
 * Here a statement is parsed and described once per connection; each later call is one
 * trip with bind, execute and sync, on the cached plan. Built only on PGlite's exported
 * protocol serialiser and result parser, under the same locks its own `query()` takes.
 */
export class PreparedStatements {
  private readonly statements = new Map<string, Statement>();
  private readonly prefix = `dispatchbox_${++drivers}_`;

  constructor(private readonly db: PGlite) {}

  /** False when the statement should take PGlite's ordinary path instead. */
  accepts(text: string): boolean {
    return this.statements.has(text) || this.statements.size < MAX_PREPARED;
  }

  /** Runs a parameterised statement outside any transaction, like `db.query`. */
  query<T>(text: string, params: unknown[]): Promise<{ rows: T[] }> {
    return this.db._runExclusiveTransaction(() =>
      this.db._runExclusiveQuery(async () => {
        const statement = this.statements.get(text) ?? (await this.prepare(text));
        const values = params.map((value, i) => this.serialise(value, statement.paramTypes[i]));
        const messages = await this.db.execProtocolStream(
          concat(
            protocol.serialize.bind({ statement: statement.name, values }),
            protocol.serialize.execute({}),
            protocol.serialize.sync(),
          ),
          { syncToFs: false },
        );
        await this.db.syncToFs();
        const all = statement.rowDescription ? [statement.rowDescription, ...messages] : messages;
        const [result] = parse.parseResults(all, this.db.parsers);
        return { rows: (result?.rows ?? []) as T[] };
      }),
    );
  }

  private async prepare(text: string): Promise<Statement> {
    const name = `${this.prefix}${this.statements.size}`;
    const messages = await this.db.execProtocolStream(
      concat(
        protocol.serialize.parse({ name, text }),
        protocol.serialize.describe({ type: 'S', name }),
        protocol.serialize.sync(),
      ),
      { syncToFs: false },
    );
    const described = messages.find((m) => m.name === 'parameterDescription') as
      { dataTypeIDs: number[] } | undefined;
    const statement: Statement = {
      name,
      paramTypes: described?.dataTypeIDs ?? [],
      rowDescription: messages.find((m) => m.name === 'rowDescription') ?? null,
    };
    this.statements.set(text, statement);
    return statement;
  }

  private serialise(value: unknown, type: number | undefined): string | Uint8Array | null {
    if (value === null || value === undefined) return null;
    // A batch of sends is one JSON text of hundreds of kilobytes. PGlite measures a text
    // value's UTF-8 length one character at a time in JavaScript; as bytes it is copied
    // whole, and json's binary form is its text.
    if (type === JSON_OID && typeof value === 'string' && value.length > 4096)
      return Buffer.from(value);
    const serialiser = type === undefined ? undefined : this.db.serializers[type];
    if (serialiser) return serialiser(value);
    // PGlite's own fallback for a type it has no serialiser for (text-like types): what
    // reaches it is a string or a number, never an object.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- see above
    return String(value);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
