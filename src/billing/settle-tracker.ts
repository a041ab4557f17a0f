import { Injectable } from '@nestjs/common';

/**
 * Settles that run after the answer went out, per user. Reads of a user's balance and ledger in
 * this process wait for theirs (read-your-writes), and shutdown waits for all of them.
 */
@Injectable()
export class SettleTracker {
  private readonly settling = new Map<string, Set<Promise<unknown>>>();

  track(userId: string, settle: Promise<unknown>): void {
    let set = this.settling.get(userId);
    if (!set) this.settling.set(userId, (set = new Set()));
    set.add(settle);
    const done = () => {
      set.delete(settle);
      if (set.size === 0 && this.settling.get(userId) === set) this.settling.delete(userId);
    };
    settle.then(done, done);
  }

  /** Resolves when the settles running for these users (all users: none given) have finished. */
  async settled(userIds?: readonly string[]): Promise<void> {
    const sets = userIds ? userIds.map((id) => this.settling.get(id)) : [...this.settling.values()];
    const pending: Promise<unknown>[] = [];
    for (const set of sets) if (set) pending.push(...set);
    if (pending.length > 0) await Promise.allSettled(pending);
  }
}
