import { join } from 'node:path'
import { CarehubError } from '../core/errors.js'
import { SecretBox } from '../secrets/secret-box.js'
import { SecretStore } from '../secrets/secret-store.js'
import { appendAudit } from '../store/audit.js'
import { gatewayIdentity } from '../store/gateway-id.js'
import { setSetting } from '../store/settings.js'
import { enrolWithCloud } from '../sync/cloud-enrolment.js'
import { CLOUD_SECRET, CLOUD_SETTING, type CloudEnrolment } from '../sync/cloud-uploader.js'
import { SECRETS_DIR } from '../system/data-layout.js'
import { type CliContext, type CliIo, withStore } from './context.js'

/**
 * `carehub cloud enroll <url> <code>`: the installer's one-time code becomes this box's cloud
 * credential, stored encrypted; a running gateway starts syncing within a few seconds.
 */
export async function cloudEnroll(ctx: CliContext, io: CliIo, url: string | undefined, code: string | undefined): Promise<void> {
  if (!url || !code)
    throw new CarehubError('CAREHUB_ERR_USAGE', 'give the service URL and the enrolment code: carehub cloud enroll https://cloud.example <code>')
  const box = await SecretBox.open(join(ctx.config.dataDir, SECRETS_DIR))
  const gatewayId = await withStore(ctx, io.now(), (db) => gatewayIdentity(db, ctx.config.gateway.id, io.now()))
  let answer: Awaited<ReturnType<typeof enrolWithCloud>>
  try {
    answer = await enrolWithCloud(url, code, gatewayId, ctx.config.gateway.name)
  } catch (err) {
    throw new CarehubError('CAREHUB_ERR_UPSTREAM_REJECTED', (err as Error).message, { cause: err })
  }
  await withStore(ctx, io.now(), async (db) => {
    await new SecretStore(
      () => db,
      () => box,
      io.now,
    ).set(CLOUD_SECRET, answer.secret, 0)
    const enrolment: CloudEnrolment = { url, gatewayId, homeId: answer.homeId, enrolledAt: io.now() }
    setSetting(db, CLOUD_SETTING, enrolment, io.now())
    // A new enrolment is a new stream both ways: start reading the cloud's changes, and sending
    // device metadata, from the beginning (a reinstalled box, another service).
    db.prepare("DELETE FROM settings WHERE key IN ('cloud.changes', 'cloud.devices')").run()
    appendAudit(db, { at: io.now(), actor: 'cli', action: 'cloud.enroll', target: `home:${answer.homeId}`, detail: { url, gatewayId } })
  })
  io.stdout(`enrolled as gateway ${gatewayId} of home ${answer.homeId} at ${url}; alerts now go to the cloud\n`)
}
