import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { AlertNotice } from '../actions/effect-writer.js'
import type { Clock } from '../core/clock.js'
import type { CommittedReading } from '../core/events.js'
import type { Service } from '../core/service.js'
import type { CommitFollowUp, CommitParticipant } from '../store/commit-participant.js'
import { evaluatedAfter, journalLag } from '../store/journal-reads.js'
import type { Db } from '../store/open.js'
import { pruneFinished } from '../store/rule-actions.js'
import { pruneTraces, rulesCursor } from '../store/rule-state.js'
import { listRules, rulesVersion } from '../store/rules.js'
import type { EvalEnv, RuleEvent } from './conditions.js'
import { type RuleInputEvent, type StepResult, step } from './evaluator.js'
import { type RuleMetrics, ruleMetrics } from './rule-metrics.js'
import { type ActiveRule, type PendingBatch, RuleSet } from './rule-set.js'

export interface RuleEngineOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly env: () => EvalEnv
  /**
   * Records a batch's effects, traces, states and cursor, in a savepoint of the journal transaction
   * `tx` it is called in; returns what to announce once that transaction is durable.
   */
  readonly record: (tx: Db, batch: PendingBatch) => AlertNotice[]
  /** Asks the journal for a transaction soon (the engine records in it); resolves once it has ended. */
  readonly requestCommit: () => Promise<void>
  readonly announce: (notice: AlertNotice) => void
  /** A recorded batch is durable and announced (the runners look for what it queued). */
  readonly recorded?: () => void
  /** Dirty states are written at least this often even when nothing fired. */
  readonly checkpointMs: number
  readonly traceRetentionDays: number
  readonly tracesPerRule: number
  /**
   * The receive time before which every reading has been handed to this engine (the oldest still
   * queued for a commit, else now): timers run up to it, so a reading that arrived before a
   * deadline but commits after it still counts — as it does in a replay.
   */
  readonly watermark: () => number
}

/** Journal entries read per slice while catching up (the loop is free between slices). */
const SLICE = 1000

/**
 * Runs the rules: each reading inside the journal transaction that stores it (live, as a
 * CommitParticipant of the journal committer, or read from the journal by cursor after a restart or
 * a lag) and every deadline a rule asked for (a precise timer, not a polling tick). The evaluator is
 * pure; this class does the I/O: it records effects, traces, states and the cursor together, in a
 * journal transaction (effects in the very transaction of the reading that fired them, so an alert
 * is stored exactly when its reading is, with one fsync; quiet state changes at least every
 * `checkpointMs`), then announces alerts once that transaction is durable. A crash replays from the
 * cursor; idempotency keys make the replayed firings land on the alerts and actions already recorded.
 */
export class RuleEngine implements Service, CommitParticipant {
  readonly name = 'rules'
  readonly #o: RuleEngineOptions
  readonly rules: RuleSet
  #cursor = 0
  /** The cursor as last recorded (retention may drop readings only up to here). */
  #recordedCursor = 0
  #caughtUp = false
  #catchingUp: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  /** The catch-up retry after a failure, while it is pending. */
  #retry: NodeJS.Timeout | undefined
  /** A recording failed: the states in memory are not what is stored; the retry reloads them first. */
  #stale = false
  #stopped = true
  /** stop() asked for one last transaction: record in it whatever was evaluated. */
  #closing = false
  #lastCheckpoint = 0
  #lastMaintenance = 0
  #lastPrune = 0
  #version = ''
  #failing = false
  /**
   * Recorded batches whose transaction is not yet durable. The journal commits the next
   * transaction while one syncs (two WAL syncs at once, durable-acks.ts), and what that one's
   * readings fired is recorded in it too, not a sync later: a later recording cannot overtake a
   * failed one. A commit that fails is known before the next transaction starts (#fail marks the
   * engine stale, and nothing is recorded until the retry reloaded); a failed sync is final and
   * fails every transaction after it (the gateway ends), and SQLite's WAL keeps a later
   * transaction only with every earlier one.
   */
  #recordings = 0
  readonly #m: RuleMetrics
  /** The follow-up of a transaction in which readings were evaluated but nothing recorded. */
  readonly #evaluatedOnly: CommitFollowUp = {
    durable: () => {},
    failed: (err) => this.#fail(err, 'the transaction with the evaluated readings failed'),
  }

  constructor(o: RuleEngineOptions) {
    this.#o = o
    this.rules = new RuleSet()
    this.#m = ruleMetrics(o.registry, () => this.#lag())
  }

  /** The journal position recorded with the rules' states: readings after it may still be evaluated. */
  get cursor(): number {
    return this.#recordedCursor
  }

  async start(): Promise<void> {
    const db = this.#o.db()
    this.#stopped = false
    this.#stale = false
    this.#cursor = rulesCursor(db)
    this.#recordedCursor = this.#cursor
    this.#reload(true)
    this.#catchUp()
    this.#arm(0)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    clearTimeout(this.#retry)
    this.#retry = undefined
    await this.#catchingUp
    // Whatever was evaluated is recorded before the journal stops (it stops after this), in one
    // last transaction; one still settling settles first.
    if (this.#recordings > 0 || this.#mayRecord(true)) {
      this.#closing = true
      await this.#o.requestCommit().finally(() => {
        this.#closing = false
      })
    }
  }

  /**
   * Inside a journal transaction (JournalCommitter's participant): evaluate its readings, and record
   * what is due in it. Out of order or while catching up, the readings are read from the journal
   * instead, once this transaction has committed.
   */
  inTransaction(entries: readonly CommittedReading[], tx: Db): CommitFollowUp | undefined {
    if (this.#stopped && !this.#closing) return undefined
    let evaluated = false
    try {
      evaluated = !this.#closing && entries.length > 0 && this.#feed(entries)
    } catch (err) {
      // A failure while evaluating (other than a rule's own step, see #step) must not hold up the
      // readings: they commit, the states go back to what is stored, the journal is read again.
      this.#fail(err, 'evaluating the rules failed')
      return undefined
    }
    if (!this.#mayRecord(this.#closing)) return evaluated ? this.#evaluatedOnly : undefined
    const now = this.#o.clock.now()
    const batch = this.rules.take(this.#cursor, now)
    let notices: AlertNotice[]
    try {
      notices = this.#o.record(tx, batch)
    } catch (err) {
      // Its savepoint rolled back; the readings commit without it and are evaluated again.
      this.#fail(err)
      return undefined
    }
    this.#recordings++
    // When taken, not when durable: a quiet checkpoint is not taken again while this one syncs.
    this.#lastCheckpoint = now
    return {
      durable: () => {
        this.#recordings--
        this.#failing = false
        this.#recordedCursor = batch.cursor
        for (const f of batch.firings) this.#m.fired.inc({ rule: f })
        const announced = this.#o.clock.now()
        for (const n of notices) {
          if (n.triggerReceivedAt !== null) this.#m.alertLatency.observe(Math.max(0, announced - n.triggerReceivedAt) / 1000)
          this.#o.announce(n)
        }
        this.#o.recorded?.()
        // What timers or a catch-up evaluated while this settled.
        this.#flush()
      },
      failed: (err) => {
        this.#recordings--
        this.#fail(err)
      },
    }
  }

  /** Rules were changed through the API or the CLI: take them up now. */
  reload(): void {
    this.#reload(false)
  }

  /** Evaluates live readings if they follow on from the cursor; false (and a catch-up) if not. */
  #feed(entries: readonly CommittedReading[]): boolean {
    if (!this.#caughtUp || entries[0]?.seq !== this.#cursor + 1) {
      this.#caughtUp = false
      // Not inside this transaction; after a failure the retry catches up, after its pause (a disk
      // that will not sync would otherwise have every commit start the catch-up again at once).
      if (this.#retry === undefined && this.#catchingUp === undefined) setImmediate(() => this.#catchUp())
      return false
    }
    const env = this.#o.env()
    for (const e of entries) this.#evaluate(e.seq, e.reading, env)
    this.#arm()
    return true
  }

  /** A recording failed: the states go back to what is stored and the entries are read again, after a pause. */
  #fail(err: unknown, what = 'recording rule results failed'): void {
    if (!this.#failing) this.#o.log.error({ err }, `${what}; re-evaluating from the journal`)
    this.#failing = true
    this.#caughtUp = false
    this.#stale = true
    if (!this.#stopped) this.#retryCatchUp()
  }

  #retryCatchUp(): void {
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined
      this.#catchUp()
    }, 1000).unref()
  }

  #catchUp(): void {
    this.#catchingUp ??= (async () => {
      try {
        if (this.#stale) {
          this.#reload(true)
          this.#cursor = rulesCursor(this.#o.db())
          this.#stale = false
        }
        for (;;) {
          // A recording that failed meanwhile: its retry starts over from what is stored.
          if (this.#stopped || this.#stale) return
          const entries = evaluatedAfter(this.#o.db(), this.#cursor, SLICE)
          const env = this.#o.env()
          for (const e of entries) this.#evaluate(e.seq, e, env)
          this.#flush()
          // Same synchronous block as the last read: every later transaction reaches inTransaction in order.
          if (entries.length < SLICE) {
            this.#caughtUp = true
            this.#arm()
            return
          }
          await new Promise((resolve) => setImmediate(resolve))
        }
      } catch (err) {
        // A read that failed, or a rule that threw part-way through a slice: some rules may have
        // stepped on entries the cursor is not past, so the states go back to what is stored too.
        this.#fail(err, 'the rules engine could not catch up with the journal')
      }
    })().finally(() => {
      this.#catchingUp = undefined
    })
  }

  #evaluate(seq: number, r: Omit<RuleEvent, 'seq'> & { receivedAt: number }, env: EvalEnv): void {
    const event: RuleEvent = { seq, deviceId: r.deviceId, measurement: r.measurement, fields: r.fields }
    const input: RuleInputEvent = { at: r.receivedAt, event }
    for (const active of this.rules.interestedIn(r.deviceId, seq, env)) this.#step(active, input, env, r.receivedAt, seq)
    this.#cursor = seq
    this.#m.evaluated.inc()
  }

  /**
   * One rule, one input. The evaluator is pure and should not throw; if a rule's step does (a bug),
   * that rule is stopped until it is edited or the gateway restarts, and the others go on: one
   * rule must not silence every alert of a home, nor be retried every second with all the rest.
   */
  #step(active: ActiveRule, input: RuleInputEvent, env: EvalEnv, receivedAt: number, seq: number | null): void {
    let result: StepResult
    try {
      result = step(active.compiled, active.state, input, env)
    } catch (err) {
      this.rules.drop(active.rule.id, { error: String((err as Error)?.message ?? err), at: input.at, seq })
      this.#m.stopped.inc({ rule: active.rule.id })
      this.#o.log.error(
        { err, rule: active.rule.id, seq },
        'a rule could not be evaluated and is stopped until it is edited or the gateway restarts; the other rules go on',
      )
      return
    }
    this.rules.record(active, result, receivedAt, seq)
  }

  /** Timers: every rule whose next deadline has come is stepped at that deadline. */
  #tick(): void {
    if (this.#stopped) return
    const wall = this.#o.clock.now()
    if (wall - this.#lastMaintenance > 5000) this.#maintain(wall)
    const now = Math.min(wall, this.#o.watermark())
    if (this.#caughtUp) {
      try {
        const env = this.#o.env()
        for (const active of this.rules.due(now)) this.#step(active, { at: now }, env, now, null)
      } catch (err) {
        this.#fail(err, 'evaluating the rules failed')
      }
    }
    this.#flush()
    this.#arm()
  }

  /** Something to record outside a reading's transaction (a timer, a catch-up): ask for a transaction. */
  #flush(): void {
    if (!this.#stopped && this.#mayRecord(false)) void this.#o.requestCommit()
  }

  /**
   * Something is due and may be recorded now: not after a failure until the retry has reloaded
   * (`force`, at stop, does not wait for the retry's pause).
   */
  #mayRecord(force: boolean): boolean {
    return !this.#stale && (force || this.#retry === undefined) && this.#due(force)
  }

  #due(force: boolean): boolean {
    if (this.rules.hasEffects()) return true
    // A moved cursor is recorded too (no rules, or none listening): retention waits for it.
    const quietChange = this.rules.hasDirty() || this.#cursor !== this.#recordedCursor
    return quietChange && (force || this.#o.clock.now() - this.#lastCheckpoint >= this.#o.checkpointMs)
  }

  #maintain(now: number): void {
    this.#lastMaintenance = now
    try {
      const version = rulesVersion(this.#o.db())
      if (version !== this.#version) this.#reload(false)
      if (now - this.#lastPrune < 3_600_000) return
      this.#lastPrune = now
      pruneFinished(this.#o.db(), now - 90 * 86_400_000)
      pruneTraces(this.#o.db(), now - this.#o.traceRetentionDays * 86_400_000, this.#o.tracesPerRule)
    } catch (err) {
      this.#o.log.warn({ err }, 'rules maintenance failed')
    }
  }

  #reload(fromStore: boolean): void {
    const db = this.#o.db()
    this.#version = rulesVersion(db)
    const journalEnd = (db.prepare('SELECT coalesce(max(seq), 0) FROM readings').pluck().get() as number) ?? 0
    this.rules.load(db, listRules(db), fromStore, this.#o.clock.now(), journalEnd)
  }

  /** Sleep until the earliest deadline, at most a second (maintenance, checkpoints). */
  #arm(delay?: number): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    const now = this.#o.clock.now()
    // Not caught up, no rule is stepped: a passed deadline would re-arm at 0 ms, a tick per loop
    // turn doing nothing. The catch-up arms again when it is done.
    const wait = this.#caughtUp ? this.rules.earliestDeadline(this.#o.env()) - now : 1000
    const next = delay ?? Math.min(1000, Math.max(0, wait))
    this.#timer = setTimeout(() => this.#tick(), next)
  }

  #lag(): number {
    return journalLag(this.#o.db, this.#cursor)
  }
}
