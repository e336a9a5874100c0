/** Something that runs SQL: a node-postgres client, or a PGlite instance or transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
}
