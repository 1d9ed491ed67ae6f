import type { EventStream } from 'h3'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ActionRunner } from '../actions/action-runner.js'
import type { DeviceCommander } from '../actions/device-command.js'
import { type AlertNotice, addDelivery } from '../actions/effect-writer.js'
import type { AlertRouteDeps } from '../api/routes/alerts.js'
import type { AutomationRouteDeps } from '../api/routes/automations.js'
import type { Config } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import type { EventBus } from '../core/event-bus.js'
import type { GatewayEvents } from '../core/events.js'
import { defineService, type Service } from '../core/service.js'
import { AlertDelivery } from '../notify/alert-delivery.js'
import { EmailSender, emailWanted } from '../notify/email-sender.js'
import { nextSnoozeEnd, wakeSnoozed } from '../store/alerts.js'
import type { JournalCommitter } from '../store/journal-committer.js'
import type { Db } from '../store/open.js'
import { unreadableRules } from '../store/rules.js'
import { CloudUploader } from '../sync/cloud-uploader.js'
import { Ticker } from '../system/ticker.js'
import { DeviceDirectory } from './device-directory.js'
import { RuleEngine } from './rule-engine.js'
import { importRules } from './rule-import.js'
import { recordBatch } from './rule-recorder.js'

export interface RuleDeps {
  readonly config: Readonly<Config>
  readonly db: () => Db
  readonly clock: Clock
  readonly log: (module: string) => Logger
  readonly registry: Registry
  readonly bus: EventBus<GatewayEvents>
  readonly gatewayId: () => string
  readonly commands: DeviceCommander
  readonly secret: (name: string) => Promise<string | undefined>
  readonly timeZone: string
  readonly journal: JournalCommitter
  /** The box's health summary for the cloud heartbeat. */
  readonly health: () => Promise<Record<string, unknown>>
}

/** The rules engine and everything that acts on what it decides, built together (issue 7). */
export interface RuleParts {
  readonly engine: RuleEngine
  readonly actions: ActionRunner
  readonly delivery: AlertDelivery
  readonly directory: DeviceDirectory
  readonly cloud: CloudUploader
  /** Tell every listener about an alert (panel stream, runners); the API calls it after a lifecycle change. */
  readonly announce: (notice: AlertNotice) => void
  /** In start order: the rules file import first, the engine last (its first firings find the runners up). */
  readonly services: readonly Service[]
  /** What the /api/automations and /api/alerts routes need. */
  routes(o: { reauthenticate: (accessToken: string) => Promise<unknown>; heartbeatMs: number }): {
    automations: AutomationRouteDeps
    alerts: AlertRouteDeps
  }
}

export function buildRules(d: RuleDeps): RuleParts {
  const { config, db, clock } = d
  const email = config.notify.email
  let smtpPassword: string | undefined
  const sender = email.enabled ? new EmailSender({ config: email, password: () => smtpPassword, log: d.log('email') }) : undefined
  const directory = new DeviceDirectory(db, d.timeZone)
  const actions = new ActionRunner({
    db,
    clock,
    log: d.log('rule-actions'),
    registry: d.registry,
    commands: d.commands,
    webhooks: config.automations.webhooks,
    secret: d.secret,
    gatewayId: d.gatewayId,
  })
  const cloud = new CloudUploader({
    db,
    clock,
    log: d.log('cloud'),
    registry: d.registry,
    secret: d.secret,
    batchSize: config.cloud.batchSize,
    timeoutMs: config.cloud.timeoutMs,
    heartbeatMs: config.cloud.heartbeatSeconds * 1000,
    backoffMinMs: config.cloud.backoffMinMs,
    backoffMaxMs: config.cloud.backoffMaxMs,
    health: d.health,
    onRemoteChange: (alert) => announce({ alert, event: alert.status === 'snoozed' ? 'snoozed' : 'acknowledged', triggerReceivedAt: null }),
  })
  const delivery = new AlertDelivery({
    db,
    clock,
    log: d.log('alert-delivery'),
    registry: d.registry,
    email: sender && {
      send: async (message) => {
        smtpPassword = await d.secret('smtp.password')
        await sender.send(message)
      },
      close: () => sender.close(),
    },
    commands: d.commands,
    fallback: config.automations.criticalFallback,
    cloudHasIt: (alertId) => cloud.hasAlert(alertId),
    gatewayName: config.gateway.name,
    timeZone: d.timeZone,
  })
  const announce = (notice: AlertNotice) => {
    d.bus.emit('alert:changed', notice)
    delivery.wake()
    cloud.wake()
  }
  const engine = new RuleEngine({
    db,
    clock,
    log: d.log('rules'),
    registry: d.registry,
    env: () => directory.env(clock.now()),
    // Recorded inside a journal transaction (the one storing the readings that fired, or one the
    // engine asks for after a timer), so durable with them; then the runners look for what it
    // queued (a rule may queue a command without raising an alert).
    record: (tx, batch) =>
      recordBatch(
        tx,
        {
          gatewayId: d.gatewayId(),
          emailFor: (severity) => emailWanted(email, severity),
          fallbackConfigured: config.automations.criticalFallback.length > 0,
        },
        batch,
      ),
    requestCommit: () => d.journal.requestCommit(),
    recorded: () => actions.wake(),
    announce,
    watermark: () => (d.journal.oldestUnwrittenReceivedAt() ?? Number.POSITIVE_INFINITY) - 1,
    checkpointMs: config.automations.checkpointMs,
    traceRetentionDays: config.automations.traceRetentionDays,
    tracesPerRule: config.automations.tracesPerRule,
  })
  const rulesFile = config.automations.rulesFile
  const log = d.log('rules')
  const services: Service[] = [
    defineService('rules-file', () => {
      const unreadable = unreadableRules(db())
      if (unreadable.length > 0)
        log.error({ ids: unreadable }, 'stored rules this version cannot read are not running; fix or delete them (DELETE /api/automations/:id)')
      if (!rulesFile) return
      const report = importRules(db(), rulesFile, clock.now())
      log.info({ file: rulesFile, ...report }, 'rules file imported')
      if (report.clashes.length > 0) {
        log.error(
          { file: rulesFile, ids: report.clashes },
          'rules in the rules file were left out: rules made in the panel have their ids; rename them in the file',
        )
      }
    }),
    actions,
    cloud,
    delivery,
    // A snooze that ran out re-opens its alert, and the people who get emails hear of it again.
    new Ticker('alert-snoozes', 1000, log, async () => {
      const due = nextSnoozeEnd(db())
      if (due === null || due > clock.now()) return
      const woken = db()
        .transaction(() => {
          const alerts = wakeSnoozed(db(), clock.now())
          for (const a of alerts) {
            if (emailWanted(email, a.severity)) addDelivery(db(), a.id, 'email', `reopened:${clock.now()}`, clock.now())
            addDelivery(db(), a.id, 'cloud', `reopened:${clock.now()}`, clock.now())
          }
          return alerts
        })
        .immediate()
      for (const alert of woken) announce({ alert, event: 'reopened', triggerReceivedAt: null })
    }),
    engine,
  ]
  // Open live streams end before the HTTPS server stops (its drain would wait for them).
  const streams = new Set<EventStream>()
  services.unshift(
    defineService(
      'live-streams',
      () => {},
      async () => void (await Promise.all([...streams].map((s) => s.close()))),
    ),
  )
  const routes: RuleParts['routes'] = (o) => ({
    automations: { db, clock, rules: () => engine.rules, reload: () => engine.reload(), env: () => directory.env(clock.now()) },
    alerts: { db, clock, announce, subscribe: (fn) => d.bus.on('alert:changed', fn), streams, ...o },
  })
  return { engine, actions, delivery, directory, cloud, announce, services, routes }
}
