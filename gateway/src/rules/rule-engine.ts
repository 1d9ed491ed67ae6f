import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { AlertNotice } from '../actions/effect-writer.js'
import type { Clock } from '../core/clock.js'
import type { CommittedReading } from '../core/events.js'
import type { Service } from '../core/service.js'
import { journalLag, readAfter } from '../store/journal.js'
import type { Db } from '../store/open.js'
import { pruneFinished } from '../store/rule-actions.js'
import { pruneTraces, rulesCursor } from '../store/rule-state.js'
import { listRules, rulesVersion } from '../store/rules.js'
import type { EvalEnv, RuleEvent } from './conditions.js'
import { type RuleInputEvent, step } from './evaluator.js'
import { type PendingBatch, RuleSet } from './rule-set.js'

export interface RuleEngineOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly env: () => EvalEnv
  /** Records a batch's effects, traces, states and cursor in one transaction; resolves with what to announce once committed. */
  readonly persist: (batch: PendingBatch) => Promise<AlertNotice[]>
  readonly announce: (notice: AlertNotice) => void
  /** Dirty states are written at least this often even when nothing fired. */
  readonly checkpointMs: number
  readonly traceRetentionDays: number
  readonly tracesPerRule: number
  /**
   * The receive time before which every reading has been handed to this engine (the oldest still
   * queued for a commit, else now): timers run up to it, and readings handed over but not yet
   * evaluated are evaluated first, so a reading that arrived before a deadline but commits after it
   * still counts — as it does in a replay.
   */
  readonly watermark: () => number
}

/** Journal entries read per slice while catching up (the loop is free between slices). */
const SLICE = 1000

/**
 * Runs the rules: each committed reading (live, straight from the journal committer, or read from
 * the journal by cursor after a restart or a lag) and every deadline a rule asked for (a precise
 * timer, not a polling tick). The evaluator is pure; this class does the I/O: it persists effects,
 * traces, states and the cursor together (effects at once, quiet state changes at least every
 * `checkpointMs`), then announces alerts. A crash replays from the cursor; idempotency keys make
 * the replayed firings land on the alerts and actions already recorded.
 */
export class RuleEngine implements Service {
  readonly name = 'rules'
  readonly #o: RuleEngineOptions
  readonly rules: RuleSet
  #cursor = 0
  /** The cursor as last recorded (retention may drop readings only up to here). */
  #recordedCursor = 0
  #live: CommittedReading[] = []
  #caughtUp = false
  #catchingUp: Promise<void> | undefined
  #scheduled = false
  #timer: NodeJS.Timeout | undefined
  /** The catch-up retry after a failure, while it is pending. */
  #retry: NodeJS.Timeout | undefined
  #stopped = true
  #lastCheckpoint = 0
  #lastMaintenance = 0
  #lastPrune = 0
  #version = ''
  #failing = false
  /** The batch being recorded: one at a time, so a failed one is never overtaken by a later cursor. */
  #recording: Promise<void> | undefined
  readonly #evaluated: Counter
  readonly #fired: Counter<'rule'>
  readonly #latency: Histogram

  constructor(o: RuleEngineOptions) {
    this.#o = o
    this.rules = new RuleSet()
    const registers = [o.registry]
    this.#evaluated = new Counter({ name: 'carehub_rules_readings_evaluated_total', help: 'Journal entries the rules engine evaluated', registers })
    this.#fired = new Counter({ name: 'carehub_rules_fired_total', help: 'Rule firings', labelNames: ['rule'], registers })
    this.#latency = new Histogram({
      name: 'carehub_rules_alert_latency_seconds',
      help: 'From a reading reaching the box to the alert it raised being stored and announced',
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    })
    const lag = () => this.#lag()
    new Gauge({
      name: 'carehub_rules_lag_entries',
      help: 'Journal entries not yet evaluated by the rules engine',
      registers,
      collect() {
        this.set(lag())
      },
    })
  }

  /** The journal position recorded with the rules' states: readings after it may still be evaluated. */
  get cursor(): number {
    return this.#recordedCursor
  }

  async start(): Promise<void> {
    const db = this.#o.db()
    this.#stopped = false
    this.#cursor = rulesCursor(db)
    this.#recordedCursor = this.#cursor
    this.#reload(true)
    this.#catchUp()
    this.#arm(0)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#catchingUp
    // Whatever was evaluated is recorded before the journal stops (it stops after this).
    while (this.#recording) await this.#recording
    this.#flush(true)
    while (this.#recording) await this.#recording
  }

  /**
   * The live feed: readings as their group commit commits (JournalCommitter.onWritten), before the
   * WAL sync, since what this engine records rides in a later commit. Out of order or while catching
   * up: read from the journal instead.
   */
  onWritten(entries: readonly CommittedReading[]): void {
    if (this.#stopped) return
    const last = this.#live.at(-1)?.seq ?? this.#cursor
    if (!this.#caughtUp || entries[0]?.seq !== last + 1) {
      this.#caughtUp = false
      this.#live = []
      // After a failure the retry timer catches up, after its pause (a disk that will not sync
      // would otherwise have every commit start the catch-up again at once).
      if (this.#retry === undefined) this.#catchUp()
      return
    }
    this.#live.push(...entries)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => {
        this.#scheduled = false
        this.#drainLive()
      })
    }
  }

  /** Rules were changed through the API or the CLI: take them up now. */
  reload(): void {
    this.#reload(false)
  }

  #drainLive(): void {
    if (this.#stopped || !this.#caughtUp) return
    this.#evaluateLive(this.#o.env())
    this.#flush(false)
    this.#arm()
  }

  #retryCatchUp(): void {
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined
      this.#catchUp()
    }, 1000).unref()
  }

  #evaluateLive(env: EvalEnv): void {
    const batch = this.#live
    this.#live = []
    for (const e of batch) this.#evaluate(e.seq, e.reading, env)
  }

  #catchUp(): void {
    this.#catchingUp ??= (async () => {
      try {
        for (;;) {
          if (this.#stopped) return
          const entries = readAfter(this.#o.db(), this.#cursor, SLICE)
          const env = this.#o.env()
          for (const e of entries) this.#evaluate(e.seq, e, env)
          this.#flush(false)
          // Same synchronous block as the last read: every later commit reaches onWritten in order.
          if (entries.length < SLICE) {
            this.#caughtUp = true
            return
          }
          await new Promise((resolve) => setImmediate(resolve))
        }
      } catch (err) {
        if (!this.#failing) this.#o.log.error({ err }, 'rules engine could not read the journal; retrying')
        this.#failing = true
        this.#retryCatchUp()
      }
    })().finally(() => {
      this.#catchingUp = undefined
    })
  }

  #evaluate(seq: number, r: Omit<RuleEvent, 'seq'> & { receivedAt: number }, env: EvalEnv): void {
    const event: RuleEvent = { seq, deviceId: r.deviceId, measurement: r.measurement, fields: r.fields }
    const input: RuleInputEvent = { at: r.receivedAt, event }
    for (const active of this.rules.interestedIn(r.deviceId, seq, env)) {
      this.rules.record(active, step(active.compiled, active.state, input, env), r.receivedAt, seq)
    }
    this.#cursor = seq
    this.#evaluated.inc()
  }

  /** Timers: every rule whose next deadline has come is stepped at that deadline. */
  #tick(): void {
    if (this.#stopped) return
    const wall = this.#o.clock.now()
    if (wall - this.#lastMaintenance > 5000) this.#maintain(wall)
    const now = Math.min(wall, this.#o.watermark())
    if (this.#caughtUp) {
      const env = this.#o.env()
      // Handed over but not evaluated yet (their immediate runs after this timer): they come first,
      // or a deadline could pass a reading that arrived before it.
      this.#evaluateLive(env)
      for (const active of this.rules.due(now)) this.rules.record(active, step(active.compiled, active.state, { at: now }, env), now, null)
    }
    this.#flush(false)
    this.#arm()
  }

  #flush(force: boolean): void {
    // After a failure the retry catch-up records again; until then timers must not keep trying.
    if (this.#recording || (this.#retry !== undefined && !force)) return
    const now = this.#o.clock.now()
    // A moved cursor is recorded too (no rules, or none listening): retention waits for it.
    const quietChange = this.rules.hasDirty() || this.#cursor !== this.#recordedCursor
    if (!this.rules.hasEffects() && !(quietChange && (force || now - this.#lastCheckpoint >= this.#o.checkpointMs))) return
    const batch = this.rules.take(this.#cursor, now)
    this.#recording = this.#o
      .persist(batch)
      .then(
        (notices) => {
          this.#failing = false
          this.#recordedCursor = batch.cursor
          this.#lastCheckpoint = now
          for (const f of batch.firings) this.#fired.inc({ rule: f })
          const announced = this.#o.clock.now()
          for (const n of notices) {
            if (n.triggerReceivedAt !== null) this.#latency.observe(Math.max(0, announced - n.triggerReceivedAt) / 1000)
            this.#o.announce(n)
          }
        },
        (err: unknown) => {
          // Not recorded: the states go back to what is stored and the entries are read again.
          if (!this.#failing) this.#o.log.error({ err }, 'recording rule results failed; re-evaluating from the journal')
          this.#failing = true
          this.#caughtUp = false
          this.#live = []
          this.#reload(true)
          this.#cursor = rulesCursor(this.#o.db())
          if (!this.#stopped) this.#retryCatchUp()
        },
      )
      .finally(() => {
        this.#recording = undefined
        // What was evaluated meanwhile goes next (after a failure #flush waits for the retry).
        if (!this.#stopped) this.#flush(force)
      })
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
    const next = delay ?? Math.min(1000, Math.max(0, this.rules.earliestDeadline(this.#o.env()) - now))
    this.#timer = setTimeout(() => this.#tick(), next)
  }

  #lag(): number {
    return journalLag(this.#o.db, this.#cursor)
  }
}
