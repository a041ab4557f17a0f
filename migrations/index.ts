import type { MigrationInterface } from 'typeorm';
import { Auth1710000001000 } from './1710000001000-Auth';

type MigrationClass = new () => MigrationInterface;

/**
 * Every migration, in order. Listed explicitly (not globbed) so the same list runs from the
 * compiled app, the CLI and Jest's ESM loader, on PostgreSQL and on embedded PGlite alike.
 * Numbering: 1710000001000 auth, …2000 billing, …3000 hosts, …4000 completions, …5000 queue.
 */
export const migrations: MigrationClass[] = [Auth1710000001000];
