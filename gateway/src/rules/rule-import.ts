import { z } from 'zod'
import { formatIssues, readYaml } from '../config/load.js'
import { CarehubError } from '../core/errors.js'
import type { Db } from '../store/open.js'
import { deleteRule, listRules, putRule } from '../store/rules.js'
import { RuleSchema } from './rule-model.js'

const RulesFile = z.strictObject({ rules: z.array(RuleSchema).max(500).default([]) })

export interface ImportReport {
  readonly added: readonly string[]
  readonly changed: readonly string[]
  readonly removed: readonly string[]
  /** Rules of the file whose id a panel/API rule already has: left out (the box still starts). */
  readonly clashes: readonly string[]
}

/**
 * config/rules.yaml → the rules table, at start-up: the file is the truth for the rules it holds
 * (origin "yaml"; the API refuses to edit them), rules it no longer holds are removed, and rules
 * made in the panel are left alone (a file rule with the id of one is skipped and reported). A bad file stops the start with the line and the rule at fault
 * (exit 78, like any config error) rather than running without the rules someone relies on.
 */
export function importRules(db: Db, path: string, now: number): ImportReport {
  const parsed = RulesFile.safeParse(readYaml(path))
  if (!parsed.success) throw new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `${path}: ${formatIssues(parsed.error.issues)}`)
  const rules = parsed.data.rules
  const ids = new Set<string>()
  for (const r of rules) {
    if (ids.has(r.id)) throw new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `${path}: rule id "${r.id}" appears twice`)
    ids.add(r.id)
  }
  return db
    .transaction(() => {
      const existing = new Map(listRules(db).map((s) => [s.rule.id, s]))
      const added: string[] = []
      const changed: string[] = []
      const removed: string[] = []
      const clashes: string[] = []
      for (const r of rules) {
        const before = existing.get(r.id)
        // A rule made in the panel keeps its id: one clash must not keep the whole box from starting.
        if (before?.origin === 'api') {
          clashes.push(r.id)
          continue
        }
        if (putRule(db, r, 'yaml', now).changed) (before ? changed : added).push(r.id)
      }
      for (const [id, s] of existing) {
        if (s.origin === 'yaml' && !ids.has(id)) {
          deleteRule(db, id)
          removed.push(id)
        }
      }
      return { added, changed, removed, clashes }
    })
    .immediate()
}
