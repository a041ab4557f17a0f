import type { MigrationInterface } from 'typeorm';
import { UnsweptHolds1710000007000 } from './1710000007000-UnsweptHolds';
import { Auth1710000001000 } from './1710000001000-Auth';
import { Usage1710000004000 } from './1710000004000-Usage';
import { Billing1710000002000 } from './1710000002000-Billing';
import { Hosts1710000003000 } from './1710000003000-Hosts';
import { Tasks1710000005000 } from './1710000005000-Tasks';
import { BillingBatch1710000006000 } from './1710000006000-BillingBatch';
import { LedgerWithoutUserKeys1710000008000 } from './1710000008000-LedgerWithoutUserKeys';
import { AsyncBillingCommits1710000009000 } from './1710000009000-AsyncBillingCommits';
import { SetBasedBillingBatches1710000010000 } from './1710000010000-SetBasedBillingBatches';
import { CreditLeases1710000011000 } from './1710000011000-CreditLeases';
import { UsageHourly1710000012000 } from './1710000012000-UsageHourly';
import { Responses1710000013000 } from './1710000013000-Responses';
import { ChargesFromPricing1710000014000 } from './1710000014000-ChargesFromPricing';

type MigrationClass = new () => MigrationInterface;

/**
 * Every migration, in order. Listed explicitly (not globbed) so the same list runs from the
 * compiled app, the CLI and Jest's ESM loader, on PostgreSQL and on embedded PGlite alike.
 * Numbering: 1710000001000 auth, …2000 billing, …3000 hosts, …4000 completions, …5000 queue.
 */
export const migrations: MigrationClass[] = [
  Auth1710000001000,
  Billing1710000002000,
  Hosts1710000003000,
  Usage1710000004000,
  Tasks1710000005000,
  BillingBatch1710000006000,
  UnsweptHolds1710000007000,
  LedgerWithoutUserKeys1710000008000,
  AsyncBillingCommits1710000009000,
  SetBasedBillingBatches1710000010000,
  CreditLeases1710000011000,
  UsageHourly1710000012000,
  Responses1710000013000,
  ChargesFromPricing1710000014000,
];
