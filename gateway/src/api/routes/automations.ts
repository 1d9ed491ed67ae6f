import { getQuery, getRouterParam, type H3, type H3Event, HTTPError, readBody, readValidatedBody } from 'h3'
import { z } from 'zod'
import type { Clock } from '../../core/clock.js'
import { Duration } from '../../core/duration.js'
import { CarehubError } from '../../core/errors.js'
import type { EvalEnv } from '../../rules/conditions.js'
import { compile, initialState, nextDeadline } from '../../rules/evaluator.js'
import { backtest, explain, replay } from '../../rules/replay.js'
import { type Rule, RuleSchema } from '../../rules/rule-model.js'
import type { RuleSet } from '../../rules/rule-set.js'
import { appendAudit } from '../../store/audit.js'
import type { Db } from '../../store/open.js'
import { listTraces } from '../../store/rule-state.js'
import { countRules, deleteRule, getRule, listRules, MAX_RULES, putRule, ruleOrigin, type StoredRule } from '../../store/rules.js'
import { actorOf, clientOf, requirePermission } from '../_internal/authenticate.js'
import { Instant } from '../_internal/query-values.js'

export interface AutomationRouteDeps {
  readonly db: () => Db
  readonly clock: Clock
  /** The engine's live rules (states for the list and the dry-run) and a way to make it reload. */
  readonly rules: () => RuleSet
  readonly reload: () => void
  readonly env: () => EvalEnv
}

export const TraceQuery = z.strictObject({
  since: Instant.optional(),
  outcome: z.enum(['armed', 'fired', 'cleared', 'near_miss', 'action']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})
/** In a JSON body a time may also be a plain number (epoch ms). */
const BodyInstant = z.union([z.number().int().nonnegative(), Instant])
const TestReading = z.strictObject({
  device: z.string().min(1).max(64),
  measurement: z.string().min(1).max(64),
  fields: z.record(z.string().max(64), z.union([z.number(), z.boolean(), z.string().max(200)])),
  at: BodyInstant.optional().describe('When the reading arrives (default: now, then 1 ms apart in order).'),
})
export const TestBody = z.strictObject({
  readings: z.array(TestReading).max(2000).default([]),
  from: z.enum(['current', 'fresh']).default('current').describe('Start from the rule’s live state, or as if just created.'),
  until: BodyInstant.optional().describe('Let time run to here after the readings (timers, windows); default: the last reading.'),
})
export const BacktestQuery = z.strictObject({ range: Duration.prefault('24h'), end: Instant.optional() })

const BACKTEST_MAX_RANGE = 31 * 86_400_000

/**
 * Rules (“automations” in the panel): CRUD, traces, dry-run and backtest (issue 7). Rules from
 * config/rules.yaml are read-only here. Every change is audited and reaches the engine at once.
 */
export function automationRoutes(app: H3, deps: AutomationRouteDeps): void {
  const find = (event: H3Event): StoredRule => {
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const stored = getRule(deps.db(), id)
    if (!stored) throw new HTTPError({ status: 404, message: `no rule "${id.slice(0, 64)}"` })
    return stored
  }
  const view = (s: StoredRule) => {
    const active = deps.rules().get(s.rule.id)
    const st = active?.version === s.version ? active.state : undefined
    return {
      ...s.rule,
      origin: s.origin,
      version: s.version,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      status: st
        ? {
            holding: st.holding,
            since: st.since,
            fired: st.fired,
            lastFiredAt: st.lastFiredAt,
            cooldownUntil: st.cooldownUntil,
            nextCheckAt: finite(nextDeadline(compile(s.rule), st, deps.env())),
          }
        : null,
      stopped: deps.rules().stopped(s.rule.id) ?? null,
    }
  }
  const audit = (event: H3Event, action: string, id: string, detail: Record<string, unknown>) =>
    appendAudit(deps.db(), {
      at: deps.clock.now(),
      actor: actorOf(requirePermission(event, 'rules:write')),
      action,
      target: `rule:${id}`,
      ip: clientOf(event).ip,
      requestId: event.context.requestId,
      detail,
    })
  const editable = (id: string, origin: StoredRule['origin']) => {
    if (origin === 'yaml') {
      throw new CarehubError('CAREHUB_ERR_CONFLICT', `rule "${id}" comes from the rules file (automations.rulesFile); change it there and restart`)
    }
  }

  app.get('/api/automations', (event) => {
    requirePermission(event, 'rules:read')
    return listRules(deps.db()).map(view)
  })

  app.get('/api/automations/:id', (event) => {
    requirePermission(event, 'rules:read')
    return view(find(event))
  })

  app.post('/api/automations', async (event) => {
    requirePermission(event, 'rules:write')
    const raw = await readBody(event)
    shallow(raw)
    const parsed = RuleSchema.safeParse(raw)
    if (!parsed.success) throw new HTTPError({ status: 400, message: 'invalid rule', data: { issues: parsed.error.issues } })
    const rule = parsed.data
    const db = deps.db()
    db.transaction(() => {
      if (ruleOrigin(db, rule.id)) throw new CarehubError('CAREHUB_ERR_CONFLICT', `a rule "${rule.id}" already exists`)
      if (countRules(db) >= MAX_RULES) throw new CarehubError('CAREHUB_ERR_CONFLICT', `there are already ${MAX_RULES} rules, the most a box runs`)
      putRule(db, rule, 'api', deps.clock.now())
      audit(event, 'rule.create', rule.id, { after: rule })
    }).immediate()
    deps.reload()
    event.res.status = 201
    return view(getRule(db, rule.id) as StoredRule)
  })

  app.put('/api/automations/:id', async (event) => {
    requirePermission(event, 'rules:write')
    const before = find(event)
    editable(before.rule.id, before.origin)
    const body = await readBody(event)
    shallow(body)
    const parsed = RuleSchema.safeParse({ ...(body as object), id: before.rule.id })
    if (!parsed.success) throw new HTTPError({ status: 400, message: 'invalid rule', data: { issues: parsed.error.issues } })
    const db = deps.db()
    db.transaction(() => {
      if (putRule(db, parsed.data, 'api', deps.clock.now()).changed)
        audit(event, 'rule.update', before.rule.id, { before: before.rule, after: parsed.data })
    }).immediate()
    deps.reload()
    return view(getRule(db, before.rule.id) as StoredRule)
  })

  app.delete('/api/automations/:id', (event) => {
    requirePermission(event, 'rules:write')
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const db = deps.db()
    // By id, even when the stored definition no longer parses (it could not be deleted otherwise).
    const origin = ruleOrigin(db, id)
    if (origin === null) throw new HTTPError({ status: 404, message: `no rule "${id.slice(0, 64)}"` })
    editable(id, origin)
    const before = getRule(db, id)
    db.transaction(() => {
      deleteRule(db, id)
      audit(event, 'rule.delete', id, { before: before?.rule ?? 'unreadable' })
    }).immediate()
    deps.reload()
    event.res.status = 204
    return null
  })

  app.get('/api/automations/:id/traces', (event) => {
    requirePermission(event, 'rules:read')
    const s = find(event)
    const q = TraceQuery.safeParse(getQuery(event))
    if (!q.success) throw new HTTPError({ status: 400, message: 'invalid trace query', data: { issues: q.error.issues } })
    return { rule: s.rule.id, version: s.version, traces: listTraces(deps.db(), s.rule.id, q.data) }
  })

  app.post('/api/automations/:id/test', async (event) => {
    requirePermission(event, 'rules:read')
    const s = find(event)
    const body = await readValidatedBody(event, TestBody)
    const now = deps.clock.now()
    const env = deps.env()
    const live = deps.rules().get(s.rule.id)
    const fromCurrent = body.from === 'current' && live !== undefined && live.version === s.version
    const start = fromCurrent ? live.state : initialState(now)
    let t = Math.max(now, start.at)
    const inputs = body.readings.map((r, i) => {
      t = r.at ?? Math.max(t + (i === 0 ? 0 : 1), start.at)
      return { at: t, event: { seq: -(i + 1), deviceId: r.device, measurement: r.measurement, fields: r.fields } }
    })
    const until = Math.max(body.until ?? t, t)
    // A dry-run is about the near past and future: at most 31 days either side of now, so a
    // reading a thousand years out cannot make the evaluator walk every deadline in between.
    const span = (x: number) => Math.abs(x - now) <= BACKTEST_MAX_RANGE
    if (!inputs.every((i) => span(i.at)) || !span(until)) {
      throw new HTTPError({ status: 400, message: 'readings and until must lie within 31 days of now' })
    }
    const result = replay(s.rule, start, inputs, until, env)
    return {
      rule: s.rule.id,
      from: fromCurrent ? 'current' : 'fresh',
      wouldFire: result.effects.some((e) => e.type === 'fire'),
      // The first 500 of each: enough to read, bounded to answer.
      effects: result.effects.slice(0, 500),
      traces: result.traces.slice(0, 500),
      // Why (not): every leaf of the condition as it stands at the end.
      now: { at: until, ...explain(s.rule, result.state, until, env), holding: result.state.holding, since: result.state.since },
    }
  })

  // One backtest at a time: it reads and replays up to 200k readings, and the box has other work.
  let backtesting = false
  app.post('/api/automations/:id/backtest', async (event) => {
    requirePermission(event, 'rules:read')
    const s = find(event)
    const q = BacktestQuery.safeParse(getQuery(event))
    if (!q.success) throw new HTTPError({ status: 400, message: 'invalid backtest query', data: { issues: q.error.issues } })
    if (q.data.range > BACKTEST_MAX_RANGE) throw new HTTPError({ status: 400, message: 'a backtest covers at most 31d' })
    const to = q.data.end ?? deps.clock.now()
    const from = to - q.data.range
    if (backtesting) throw new CarehubError('CAREHUB_ERR_RATE_LIMITED', 'another backtest is running; try again when it is done')
    backtesting = true
    try {
      return summarise(s.rule, from, to, await backtest(deps.db(), s.rule, from, to, deps.env()))
    } finally {
      backtesting = false
    }
  })
}

function summarise(rule: Rule, from: number, to: number, r: Awaited<ReturnType<typeof backtest>>) {
  const nearMisses: Record<string, number> = {}
  for (const t of r.traces) if (t.outcome === 'near_miss' && t.reason) nearMisses[t.reason] = (nearMisses[t.reason] ?? 0) + 1
  return {
    rule: rule.id,
    from,
    to,
    readings: r.readings,
    truncated: r.truncated,
    firings: r.effects.filter((e) => e.type === 'fire').map((e) => ({ at: e.at, seq: e.seq, deviceId: e.trigger?.deviceId ?? null, views: e.views })),
    clears: r.effects.filter((e) => e.type === 'clear').map((e) => e.at),
    nearMisses,
  }
}

const finite = (n: number) => (Number.isFinite(n) ? n : null)

/**
 * Refuse deeply nested JSON before zod walks it recursively (a 2,000-deep condition would overflow
 * the stack). Rules nest a handful of levels; 32 leaves room for any sensible one.
 */
function shallow(value: unknown, limit = 32): void {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (depth > limit) throw new HTTPError({ status: 400, message: `a rule nests at most ${limit} levels deep` })
    if (v !== null && typeof v === 'object') for (const child of Object.values(v)) stack.push([child, depth + 1])
  }
}
