import type { Db } from '../store/open.js'
import { loadRuleStates, type SavedState } from '../store/rule-state.js'
import type { StoredRule } from '../store/rules.js'
import type { EvalEnv } from './conditions.js'
import { type CompiledRule, compile, type Effect, initialState, nextDeadline, type RuleState, type StepResult, type Trace } from './evaluator.js'
import type { Condition, Rule } from './rule-model.js'

/** The enabled rules in memory: compiled definition, evaluator state, what they listen to, their next deadline. */
export interface ActiveRule {
  readonly rule: Rule
  readonly version: number
  readonly compiled: CompiledRule
  state: RuleState
  readonly devices: ReadonlySet<string>
  readonly rooms: ReadonlySet<string>
  deadline: number
}

export interface RuleResults {
  readonly rule: Rule
  readonly version: number
  readonly effects: Effect[]
  readonly traces: Trace[]
}

/** What one transaction records: results of the evaluations since the last one, states, cursor. */
export interface PendingBatch {
  readonly cursor: number
  readonly now: number
  readonly results: readonly RuleResults[]
  /** Each dirty rule's state as JSON, taken with the batch (consistent with its effects and cursor). */
  readonly states: ReadonlyMap<string, string>
  /** Ids of rules that fired (metrics). */
  readonly firings: readonly string[]
  /** Receive times of the entries that produced effects (latency). */
  readonly receivedAt: ReadonlyMap<number, number>
}

export interface RuleStopped {
  readonly error: string
  readonly at: number
  /** The journal entry it could not evaluate (null: a timer). */
  readonly seq: number | null
}

export class RuleSet {
  #active = new Map<string, ActiveRule>()
  /** Per device, the rules naming it, in #active's order; and the rules that name rooms (few). */
  #byDevice = new Map<string, ActiveRule[]>()
  #byRoom: ActiveRule[] = []
  /** Each rule's position in #active, to merge the two lists above in the rule set's order. */
  #order = new Map<ActiveRule, number>()
  #dirty = new Set<string>()
  #pending = new Map<string, RuleResults>()
  #receivedAt = new Map<number, number>()
  /** Rules stopped because their step threw (drop), until loaded again: why, and on which input. */
  #stopped = new Map<string, RuleStopped>()

  get size(): number {
    return this.#active.size
  }

  get(id: string): ActiveRule | undefined {
    return this.#active.get(id)
  }

  /** Why a rule is stopped (its evaluation threw), or undefined when it runs. */
  stopped(id: string): RuleStopped | undefined {
    return this.#stopped.get(id)
  }

  /**
   * Take up the stored rules. From the store (start-up, or after a failed write): states as
   * persisted. Otherwise (an edit): unchanged rules keep their live state, new or changed ones
   * start fresh now (after `journalEnd`), removed or disabled ones are dropped.
   */
  load(db: Db, stored: readonly StoredRule[], fromStore: boolean, now: number, journalEnd: number): void {
    const saved = fromStore ? loadRuleStates(db) : new Map<string, SavedState>()
    if (fromStore) {
      this.#pending.clear()
      this.#dirty.clear()
      this.#receivedAt.clear()
    }
    // Loading again is how a stopped rule gets another chance (an edit, a restart).
    this.#stopped.clear()
    const next = new Map<string, ActiveRule>()
    for (const s of stored) {
      if (!s.rule.enabled) continue
      const current = this.#active.get(s.rule.id)
      const keep = !fromStore && current?.version === s.version ? current.state : undefined
      const persisted = saved.get(s.rule.id)
      // A rule new or changed now watches from now on: readings already in the journal (a backlog
      // the engine is still catching up on) are history, for the backtest — not alerts today.
      const state = keep ?? (persisted?.ruleVersion === s.version ? persisted.state : { ...initialState(now), armedSeq: journalEnd })
      const { devices, rooms } = listensTo(s.rule.when)
      next.set(s.rule.id, { rule: s.rule, version: s.version, compiled: compile(s.rule), state, devices, rooms, deadline: Number.NEGATIVE_INFINITY })
      if (state !== keep && state !== persisted?.state) this.#dirty.add(s.rule.id)
    }
    // Results computed before an edit are still real firings: they are recorded with the version that
    // made them (a deleted rule's are dropped when recorded).
    for (const id of [...this.#dirty]) if (!next.has(id)) this.#dirty.delete(id)
    this.#active = next
    this.#byDevice = new Map()
    this.#byRoom = []
    this.#order = new Map([...next.values()].map((a, i) => [a, i]))
    for (const a of next.values()) {
      for (const d of a.devices) {
        const list = this.#byDevice.get(d)
        if (list) list.push(a)
        else this.#byDevice.set(d, [a])
      }
      if (a.rooms.size > 0) this.#byRoom.push(a)
    }
  }

  /**
   * The rules a reading from `deviceId` can concern, in the rule set's order: looked up by device
   * (a scan of every rule per reading was 3 % of the CPU at ingest saturation with 100 rules), plus
   * the rules naming the device's room.
   */
  *interestedIn(deviceId: string, seq: number, env: EvalEnv): Iterable<ActiveRule> {
    const direct = this.#byDevice.get(deviceId) ?? []
    let candidates: readonly ActiveRule[] = direct
    if (this.#byRoom.length > 0) {
      const room = env.roomOf(deviceId)
      const viaRoom = room === null ? [] : this.#byRoom.filter((a) => a.rooms.has(room) && !a.devices.has(deviceId))
      if (viaRoom.length > 0) {
        const order = this.#order
        candidates = [...direct, ...viaRoom].sort((x, y) => (order.get(x) ?? 0) - (order.get(y) ?? 0))
      }
    }
    for (const a of candidates) if (seq > (a.state.armedSeq ?? 0)) yield a
  }

  *due(now: number): Iterable<ActiveRule> {
    for (const a of this.#active.values()) if (a.deadline <= now) yield a
  }

  earliestDeadline(env: EvalEnv): number {
    let min = Number.POSITIVE_INFINITY
    for (const a of this.#active.values()) {
      if (a.deadline === Number.NEGATIVE_INFINITY) a.deadline = nextDeadline(a.compiled, a.state, env)
      if (a.deadline < min) min = a.deadline
    }
    return min
  }

  /** Keep a step's results for the next transaction; the rule's deadline is recomputed lazily. */
  record(a: ActiveRule, r: StepResult, receivedAt: number, seq: number | null): void {
    a.deadline = Number.NEGATIVE_INFINITY
    this.#dirty.add(a.rule.id)
    if (r.effects.length === 0 && r.traces.length === 0) return
    let p = this.#pending.get(a.rule.id)
    if (!p) {
      p = { rule: a.rule, version: a.version, effects: [], traces: [] }
      this.#pending.set(a.rule.id, p)
    }
    p.effects.push(...r.effects)
    p.traces.push(...r.traces)
    if (seq !== null && r.effects.length > 0) this.#receivedAt.set(seq, receivedAt)
  }

  hasEffects(): boolean {
    return this.#pending.size > 0
  }

  hasDirty(): boolean {
    return this.#dirty.size > 0
  }

  /**
   * Stop evaluating a rule whose step threw, until the rules are loaded again (an edit, a restart):
   * its results so far are kept, its state (maybe half-stepped) is not saved.
   */
  drop(id: string, why: RuleStopped): void {
    const a = this.#active.get(id)
    if (!a) return
    this.#stopped.set(id, why)
    this.#active.delete(id)
    this.#dirty.delete(id)
    this.#order.delete(a)
    // New lists, not spliced: a caller may be iterating the old one (interestedIn).
    for (const d of a.devices)
      this.#byDevice.set(
        d,
        (this.#byDevice.get(d) ?? []).filter((x) => x !== a),
      )
    this.#byRoom = this.#byRoom.filter((x) => x !== a)
  }

  take(cursor: number, now: number): PendingBatch {
    const states = new Map<string, string>()
    for (const id of this.#dirty) {
      const a = this.#active.get(id)
      if (a) states.set(id, JSON.stringify({ ruleVersion: a.version, state: a.state } satisfies SavedState))
    }
    const results = [...this.#pending.values()]
    const batch: PendingBatch = {
      cursor,
      now,
      results,
      states,
      firings: results.flatMap((r) => r.effects.filter((e) => e.type === 'fire').map(() => r.rule.id)),
      receivedAt: this.#receivedAt,
    }
    this.#dirty = new Set()
    this.#pending = new Map()
    this.#receivedAt = new Map()
    return batch
  }
}

/** The devices and rooms whose readings can change a condition (everything else skips the rule). */
export function listensTo(c: Condition, acc = { devices: new Set<string>(), rooms: new Set<string>() }) {
  if ('all' in c || 'any' in c) for (const x of 'all' in c ? c.all : c.any) listensTo(x, acc)
  else if ('not' in c) listensTo(c.not, acc)
  else if (!('time' in c)) {
    const leaf = Object.values(c)[0] as { device?: string; devices?: string[]; room?: string }
    if (leaf.device) acc.devices.add(leaf.device)
    for (const d of leaf.devices ?? []) acc.devices.add(d)
    if (leaf.room) acc.rooms.add(leaf.room)
  }
  return acc
}
