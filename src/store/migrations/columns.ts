import type { ColumnBuilderCallback, ColumnDataType } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** An auto-incrementing integer key, spelled the way each dialect wants it. */
export function idColumn(dialect: Dialect): { type: ColumnDataType; build: ColumnBuilderCallback } {
  return dialect === 'postgres'
    ? { type: 'serial', build: (c) => c.primaryKey() }
    : { type: 'integer', build: (c) => c.primaryKey().autoIncrement() };
}
