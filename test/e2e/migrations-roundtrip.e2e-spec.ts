import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, type QueryRunner } from 'typeorm';
import { migrations } from '../../migrations';
import { freshDatabase } from '../support/databases';

/**
 * Everything a migration can create in the public schema, as text: tables and their columns,
 * constraints, indexes, functions (whole definitions, bodies included), triggers, views, sequences.
 */
async function schema(q: QueryRunner): Promise<Record<string, string[]>> {
  const lines = async (sql: string) => ((await q.query(sql)) as { line: string }[]).map((r) => r.line);
  return {
    columns: await lines(`
      SELECT table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable
             || ' default=' || coalesce(column_default, '') AS line
        FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1`),
    constraints: await lines(`
      SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1`),
    indexes: await lines(`SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`),
    functions: await lines(`
      SELECT pg_get_functiondef(p.oid) AS line FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace ORDER BY p.proname, 1`),
    triggers: await lines(`
      SELECT pg_get_triggerdef(t.oid) AS line FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal ORDER BY 1`),
    relations: await lines(`
      SELECT relkind::text || ' ' || relname AS line FROM pg_class
       WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'm', 'S', 'p') ORDER BY 1`),
  };
}

describe('migrations', () => {
  it('each one, on a fresh database: up, down gives back the schema before it, up again gives the same schema', async () => {
    const db = await freshDatabase('roundtrip');
    const dataSource = new DataSource({ type: 'postgres', url: db.url });
    await dataSource.initialize();
    const q = dataSource.createQueryRunner();
    try {
      const empty = await schema(q);
      expect(empty.relations).toEqual([]);
      const checked: string[] = [];
      for (const Migration of migrations) {
        const migration = new Migration();
        const before = await schema(q);
        await migration.up(q);
        const after = await schema(q);
        // Every migration changes the schema (or it would not need a down to undo).
        expect(after).not.toEqual(before);
        await migration.down!(q);
        expect({ migration: migration.name, schema: await schema(q) }).toEqual({
          migration: migration.name,
          schema: before,
        });
        await migration.up(q);
        expect({ migration: migration.name, schema: await schema(q) }).toEqual({
          migration: migration.name,
          schema: after,
        });
        checked.push(migration.name!);
      }
      expect(checked).toHaveLength(migrations.length);
      // And all the way back down, newest first, to the empty database.
      for (const Migration of [...migrations].reverse()) await new Migration().down!(q);
      expect(await schema(q)).toEqual(empty);
    } finally {
      await q.release();
      await dataSource.destroy();
      await db.drop();
    }
  });

  it('import nothing but typeorm: a migration keeps creating what it created when it first ran', () => {
    const folder = join(process.cwd(), 'migrations');
    const files = readdirSync(folder).filter((f) => /^\d+-.*\.ts$/.test(f));
    expect(files).toHaveLength(migrations.length);
    for (const file of files) {
      const imports = [...readFileSync(join(folder, file), 'utf8').matchAll(/from\s+'([^']+)'/g)].map(
        (m) => m[1],
      );
      expect({ file, imports }).toEqual({ file, imports: ['typeorm'] });
    }
  });
});
