/** Brings a store file to the latest schema, one numbered migration at a time (see schema.ts). */
import type { SqlDatabase } from './driver';
import { SchemaTooNewError } from './faults';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './schema';

export function schemaVersion(db: SqlDatabase): number {
  return db.pragma('user_version') as number;
}

/**
 * Applies every migration above the file's version, each in its own IMMEDIATE transaction that
 * re-reads the version first, so two processes opening the same new file never apply one twice.
 * Throws SchemaTooNewError for a file from a newer build (it is never touched).
 */
export function migrate(db: SqlDatabase, upTo = LATEST_SCHEMA_VERSION): { from: number; to: number } {
  const from = schemaVersion(db);
  if (from > LATEST_SCHEMA_VERSION) throw new SchemaTooNewError(from, LATEST_SCHEMA_VERSION);
  for (const m of MIGRATIONS) {
    if (m.version > upTo) break;
    if (m.version <= from) continue;
    db.transaction(() => {
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
  }
  return { from, to: schemaVersion(db) };
}
