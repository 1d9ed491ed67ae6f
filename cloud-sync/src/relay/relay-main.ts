import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { Pool } from 'mysql2/promise'
import type { Logger } from 'pino'
import type { CloudConfig } from '../config.js'
import type { Channel } from './channels/channel.js'
import { EmailChannel } from './channels/email.js'
import { FcmChannel, type FcmServiceAccount } from './channels/fcm.js'
import { SmsChannel } from './channels/sms.js'
import { watchGateways } from './offline-watch.js'
import { RelayWorker } from './relay-worker.js'

/**
 * `node dist/main.js relay`: one relay instance — deliveries claimed and sent every second, the
 * offline watch every 30 s. Run as many as needed; they share the work through the database.
 * The channels whose settings are in the environment are built; a delivery for one that is not
 * configured fails with that reason.
 */
export async function runRelay(
  config: CloudConfig,
  pool: Pool,
  log: Logger,
  extra: Partial<Record<'email' | 'sms', Channel>> = {},
): Promise<() => Promise<void>> {
  const channels: Partial<Record<'push' | 'email' | 'sms', Channel>> = { ...extra }
  if (config.CLOUD_SMTP_URL && config.CLOUD_MAIL_FROM)
    channels.email ??= new EmailChannel({ url: config.CLOUD_SMTP_URL, from: config.CLOUD_MAIL_FROM })
  if (config.CLOUD_SMS_URL && config.CLOUD_SMS_TOKEN) channels.sms ??= new SmsChannel({ url: config.CLOUD_SMS_URL, token: config.CLOUD_SMS_TOKEN })
  if (config.CLOUD_FCM_SERVICE_ACCOUNT_FILE) {
    const account = JSON.parse(readFileSync(config.CLOUD_FCM_SERVICE_ACCOUNT_FILE, 'utf8')) as FcmServiceAccount
    channels.push = new FcmChannel({ serviceAccount: account, now: () => Date.now() })
  }
  log.info({ channels: Object.keys(channels) }, 'relay channels')
  const worker = new RelayWorker({ pool, channels, id: config.CLOUD_RELAY_ID ?? `${hostname()}:${process.pid}`, log, now: () => Date.now() })
  worker.start(1000)
  const watch = setInterval(() => {
    watchGateways(pool, { silentMs: config.CLOUD_OFFLINE_MINUTES * 60_000, now: () => Date.now(), log }).catch((err: unknown) =>
      log.error({ err }, 'offline watch failed; trying again'),
    )
  }, 30_000)
  return async () => {
    clearInterval(watch)
    await worker.stop()
    if (channels.email instanceof EmailChannel) channels.email.close()
  }
}
