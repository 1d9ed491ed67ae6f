import { type AlertNotice, type EffectContext, writeEffects } from '../actions/effect-writer.js'
import type { Db } from '../store/open.js'
import { insertTraces, saveRuleStates } from '../store/rule-state.js'
import { kept } from '../store/statements.js'
import type { PendingBatch } from './rule-set.js'

/**
 * One transaction per batch of evaluations: effects (alerts, deliveries, queued actions), traces,
 * the rules' states and the cursor move together — after a crash either all of it is there or the
 * evaluations run again from the old cursor and land on the same idempotency keys. Runs inside
 * the journal's group commit (a savepoint of it) or as a transaction of its own.
 */
export function recordBatch(db: Db, ctx: Omit<EffectContext, 'now' | 'receivedAt'>, batch: PendingBatch): AlertNotice[] {
  return db.transaction(() => {
    // A rule deleted a moment ago (CLI, another request) may still have results: they go with it.
    const exists = new Set(kept(db, 'SELECT id FROM rules', 'pluck').all() as string[])
    const effects: EffectContext = { ...ctx, now: batch.now, receivedAt: (seq) => batch.receivedAt.get(seq) ?? null }
    const notices: AlertNotice[] = []
    for (const r of batch.results) {
      if (!exists.has(r.rule.id)) continue
      notices.push(...writeEffects(db, effects, r.rule, r.version, r.effects))
      insertTraces(db, r.rule.id, r.version, r.traces, batch.now)
    }
    const states = new Map([...batch.states].filter(([id]) => exists.has(id)))
    saveRuleStates(db, states, batch.cursor, batch.now)
    return notices
  })()
}
