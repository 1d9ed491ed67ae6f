import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { AutomationsConfig } from '../config/automations-schema.js'
import { backoffDelay } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import type { Service } from '../core/service.js'
import { webhookSignature } from '../sources/homeassistant/webhook-guard.js'
import type { Db } from '../store/open.js'
import { dueActions, nextActionDue, type RuleAction, recordAttempt } from '../store/rule-actions.js'
import { insertTraces } from '../store/rule-state.js'
import type { CommandOutcome, CommandRequest } from './device-command.js'

export interface ActionRunnerOptions {
  readonly db: () => Db
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly commands: { run(req: CommandRequest): Promise<CommandOutcome> }
  readonly webhooks: AutomationsConfig['webhooks']
  /** The HMAC secret of a webhook target (secret webhook.<id>). */
  readonly secret: (name: string) => Promise<string | undefined>
  readonly gatewayId: () => string
}

/** Commands retry while the device is unreachable, not after it answered or may have acted (timeout). */
const COMMAND_ATTEMPTS = 3
const RUNNING_AT_ONCE = 4

/**
 * Runs the commands and webhooks rules queued (rule_actions): woken once the firing that queued
 * them is durable (its poll may also find a row committed a moment before its sync ends). Each outcome is recorded on its row and as a rule trace ("action"), so a trace shows not
 * only that a rule fired but what its siren or webhook did. A replayed firing finds its row already
 * there (same idempotency key) and nothing runs twice.
 */
export class ActionRunner implements Service {
  readonly name = 'rule-actions'
  readonly #o: ActionRunnerOptions
  readonly #running = new Set<number>()
  /** Actions whose outcome could not even be recorded: left alone until then (no tight retry loop). */
  readonly #coolOff = new Map<number, number>()
  readonly #done: Counter<'kind' | 'status'>
  #timer: NodeJS.Timeout | undefined
  #stopped = true

  constructor(o: ActionRunnerOptions) {
    this.#o = o
    this.#done = new Counter({
      name: 'carehub_rule_actions_total',
      help: 'Rule actions attempted, by kind and result',
      labelNames: ['kind', 'status'],
      registers: [o.registry],
    })
  }

  async start(): Promise<void> {
    this.#stopped = false
    this.wake()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  /** Something was queued (called after the engine's transaction) or a timer ran out. */
  wake(): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    const now = this.#o.clock.now()
    try {
      for (const action of dueActions(this.#o.db(), now, RUNNING_AT_ONCE * 4)) {
        if (this.#running.size >= RUNNING_AT_ONCE) break
        if (this.#running.has(action.id) || (this.#coolOff.get(action.id) ?? 0) > now) continue
        this.#running.add(action.id)
        void this.#run(action)
          .catch((err: unknown) => this.#unexpected(action, err))
          .finally(() => {
            this.#running.delete(action.id)
            this.wake()
          })
      }
      const next = nextActionDue(this.#o.db())
      if (next !== null && this.#running.size < RUNNING_AT_ONCE)
        this.#timer = setTimeout(() => this.wake(), Math.min(60_000, Math.max(next - now, this.#coolOff.size ? 5000 : 50)))
    } catch (err) {
      this.#o.log.error({ err }, 'reading queued rule actions failed; retrying in 5 s')
      this.#timer = setTimeout(() => this.wake(), 5000)
    }
  }

  async #run(a: RuleAction): Promise<void> {
    const attempt = a.attempts + 1
    let status: 'done' | 'failed' | 'gave_up' | 'pending'
    let outcome: Record<string, unknown>
    let retryAt: number | undefined
    if (a.kind === 'command') {
      const spec = a.spec as { device: string; capability: string; params: Record<string, unknown>; timeoutMs?: number }
      const o = await this.#o.commands.run({
        deviceId: spec.device,
        capability: spec.capability,
        params: spec.params,
        actor: `rule:${a.ruleId}`,
        ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
      })
      outcome = { ...o }
      // Unreachable: nothing was delivered, try again. Cut off by our own shutdown: the device may
      // have acted, so it is final (README: never retried after it may have reached the device).
      const retryable = o.status === 'unavailable' || (o.status === 'failed' && !this.#stopped)
      status = o.status === 'ok' ? 'done' : !retryable ? 'failed' : attempt < COMMAND_ATTEMPTS ? 'pending' : 'gave_up'
      if (status === 'pending') retryAt = this.#o.clock.now() + backoffDelay(attempt, 5000, 60_000)
    } else {
      const r = await this.#webhook(a)
      outcome = r
      const target = this.#o.webhooks.find((w) => w.id === (a.spec as { target: string }).target)
      status = r.ok ? 'done' : r.permanent ? 'failed' : attempt < (target?.maxAttempts ?? 1) ? 'pending' : 'gave_up'
      if (status === 'pending') retryAt = this.#o.clock.now() + backoffDelay(attempt, 2000, 600_000)
    }
    const now = this.#o.clock.now()
    this.#done.inc({ kind: a.kind, status })
    const message = `${a.kind} ${status === 'pending' ? `attempt ${attempt} failed, retrying` : status}${outcome.detail ? `: ${outcome.detail}` : ''}`
    try {
      const db = this.#o.db()
      db.transaction(() => {
        recordAttempt(db, a.id, status, outcome, now, retryAt)
        if (a.ruleId !== null && db.prepare('SELECT 1 FROM rules WHERE id = ?').get(a.ruleId)) {
          insertTraces(db, a.ruleId, 0, [{ at: now, seq: null, outcome: 'action', reason: null, message, views: [] }], now)
        }
      }).immediate()
    } catch (err) {
      // The store went away under a slow webhook at shutdown: the row stays pending and runs again
      // after the restart (webhooks carry an Idempotency-Key for the receiver to recognise it).
      this.#o.log.warn({ err, action: a.id }, 'could not record a rule action outcome')
      this.#coolOff.set(a.id, this.#o.clock.now() + 5000)
      return
    }
    this.#coolOff.delete(a.id)
    if (status !== 'done') this.#o.log.warn({ action: a.id, rule: a.ruleId, kind: a.kind, status, outcome }, 'rule action did not succeed')
  }

  /**
   * Something threw where an outcome was expected (a secret that cannot be decrypted, …): record a
   * failed attempt with backoff, so the row is not picked up again at once, forever.
   */
  #unexpected(a: RuleAction, err: unknown): void {
    this.#o.log.error({ err, action: a.id, rule: a.ruleId }, 'rule action failed unexpectedly; retrying with backoff')
    this.#coolOff.set(a.id, this.#o.clock.now() + 5000)
    try {
      const now = this.#o.clock.now()
      const attempt = a.attempts + 1
      const status = attempt < 10 ? 'pending' : 'gave_up'
      recordAttempt(
        this.#o.db(),
        a.id,
        status,
        { status: 'failed', detail: String((err as Error)?.message ?? err) },
        now,
        now + backoffDelay(attempt, 5000, 600_000),
      )
    } catch {
      // The store is gone (shutting down): the row runs again after the restart.
    }
  }

  async #webhook(a: RuleAction): Promise<{ ok: boolean; permanent: boolean; status?: number; detail: string }> {
    const spec = a.spec as { target: string; note?: string; payload: Record<string, unknown> }
    const target = this.#o.webhooks.find((w) => w.id === spec.target)
    if (!target) return { ok: false, permanent: true, detail: `no webhook target "${spec.target}" in the config (automations.webhooks)` }
    const secret = await this.#o.secret(`webhook.${target.id}`)
    if (!secret)
      return { ok: false, permanent: false, detail: `the secret webhook.${target.id} is not set (carehub secret set webhook.${target.id})` }
    const body = JSON.stringify({ gateway: this.#o.gatewayId(), idempotencyKey: a.key, note: spec.note ?? null, ...spec.payload })
    const ts = String(Math.floor(this.#o.clock.now() / 1000))
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-timestamp': ts,
          'x-signature': webhookSignature(secret, ts, body),
          'idempotency-key': a.key,
        },
        body,
        signal: AbortSignal.timeout(target.timeoutMs),
        redirect: 'error',
      })
      await res.body?.cancel()
      // 408 and 429 and 5xx are worth another try; another 4xx will not change by retrying.
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429
      return { ok: res.ok, permanent, status: res.status, detail: `HTTP ${res.status}` }
    } catch (err) {
      return {
        ok: false,
        permanent: false,
        detail: (err as Error).name === 'TimeoutError' ? `no answer in ${target.timeoutMs} ms` : String((err as Error).message),
      }
    }
  }
}
