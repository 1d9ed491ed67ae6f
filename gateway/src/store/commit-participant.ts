import type { CommittedReading } from '../core/events.js'
import type { Db } from './open.js'

/** What a participant wants to hear about the transaction it took part in. */
export interface CommitFollowUp {
  durable(): void
  /** Rolled back, or committed but its sync failed: nothing it wrote may be announced as stored. */
  failed(err: Error): void
}

/** A part that writes in every journal transaction (the rules engine): see JournalCommitter. */
export interface CommitParticipant {
  /**
   * Called inside the transaction (`tx` is the journal's connection, in it): a write here commits
   * with the readings, and one that must fail alone goes in a savepoint (db.transaction nests as
   * one). Called for every transaction, with no readings too (after requestCommit()). Must not
   * throw: if it does, the error is logged and the transaction goes on without it.
   */
  inTransaction(entries: readonly CommittedReading[], tx: Db): CommitFollowUp | undefined
}
