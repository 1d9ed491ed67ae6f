import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CarehubError } from '../core/errors.js'
import { enrolDevice, revokeDevice } from '../pki/device-enrolment.js'
import { LocalCa } from '../pki/local-ca.js'
import { SecretBox } from '../secrets/secret-box.js'
import { appendAudit } from '../store/audit.js'
import { certificatesOf } from '../store/device-certificates.js'
import { listDevices } from '../store/devices.js'
import { gatewayIdentity } from '../store/gateway-id.js'
import { prepareDataDir } from '../system/data-dir.js'
import { PKI_DIR, SECRETS_DIR } from '../system/data-layout.js'
import { type CliContext, type CliIo, withStore } from './context.js'

/** `carehub device add <id> --out <dir> [--renew]`: writes ca.crt, <id>.crt, <id>.key (0600). */
export async function deviceAdd(
  ctx: CliContext,
  io: CliIo,
  args: { id: string | undefined; out: string | undefined; renew: boolean },
): Promise<void> {
  if (!args.id) throw new CarehubError('CAREHUB_ERR_USAGE', 'give the device id: carehub device add <device_id> --out <dir>')
  if (!args.out) throw new CarehubError('CAREHUB_ERR_USAGE', 'give the folder for the certificate files with --out <dir>')
  const { config } = ctx
  const now = io.now()
  const outDir = resolve(io.cwd, args.out)
  prepareDataDir(config.dataDir, [PKI_DIR, SECRETS_DIR])
  const secrets = await SecretBox.open(join(config.dataDir, SECRETS_DIR))
  const issued = await withStore(ctx, now, async (db) => {
    // Same CA the daemon uses; created here if the daemon never ran (first enrolment on the bench).
    const gatewayId = gatewayIdentity(db, config.gateway.id, now)
    const ca = await LocalCa.loadOrCreate({ dir: join(config.dataDir, PKI_DIR), secrets, gatewayId, validityDays: config.pki.caValidityDays, now })
    const cert = await enrolDevice(db, ca, args.id as string, { validityDays: config.devices.certValidityDays, now, renew: args.renew })
    appendAudit(db, {
      at: now,
      actor: 'cli',
      action: args.renew ? 'device.renew' : 'device.enrol',
      target: `device:${args.id}`,
      detail: { serial: cert.serial },
    })
    return { cert, caPem: ca.certPem }
  })
  mkdirSync(outDir, { recursive: true, mode: 0o700 })
  writeFileSync(join(outDir, 'ca.crt'), issued.caPem, { mode: 0o644 })
  writeFileSync(join(outDir, `${args.id}.crt`), issued.cert.certPem, { mode: 0o644 })
  writeFileSync(join(outDir, `${args.id}.key`), issued.cert.keyPem, { mode: 0o600 })
  io.stdout(
    `device "${args.id}" enrolled; certificate serial ${issued.cert.serial}, valid until ${new Date(issued.cert.notAfter).toISOString().slice(0, 10)}\n` +
      `wrote ${join(outDir, 'ca.crt')}, ${join(outDir, `${args.id}.crt`)}, ${join(outDir, `${args.id}.key`)} (keep the .key secret: flash it to the device, then delete it)\n`,
  )
}

/** `carehub device revoke <id>` */
export async function deviceRevoke(ctx: CliContext, io: CliIo, id: string | undefined): Promise<void> {
  if (!id) throw new CarehubError('CAREHUB_ERR_USAGE', 'give the device id: carehub device revoke <device_id>')
  const now = io.now()
  const n = await withStore(ctx, now, (db) =>
    db
      .transaction(() => {
        const count = revokeDevice(db, id, now)
        appendAudit(db, { at: now, actor: 'cli', action: 'device.revoke', target: `device:${id}`, detail: { certificates: count } })
        return count
      })
      .immediate(),
  )
  io.stdout(
    n === 0
      ? `device "${id}" had no certificate left to revoke\n`
      : `revoked ${n} certificate(s) of "${id}"; a running gateway disconnects it within 2 s\n`,
  )
}

/** `carehub device list [--json]` */
export async function deviceList(ctx: CliContext, io: CliIo, json: boolean): Promise<void> {
  const rows = await withStore(
    ctx,
    io.now(),
    (db) =>
      listDevices(db).map((d) => {
        const certs = certificatesOf(db, d.id)
        const valid = certs.filter((c) => c.revokedAt === null && c.notAfter > io.now())
        return {
          id: d.id,
          source: d.source,
          room: d.room,
          availability: d.availability,
          lastSeenAt: d.lastSeenAt,
          certificate: valid.length ? 'valid' : certs.length ? 'revoked/expired' : 'none',
        }
      }),
    { readOnly: true },
  )
  if (json) return io.stdout(`${JSON.stringify(rows, null, 2)}\n`)
  if (rows.length === 0) return io.stdout('no devices yet (enrol one: carehub device add <device_id> --out <dir>)\n')
  const lines = rows.map(
    (r) =>
      `${r.id.padEnd(24)} ${r.source.padEnd(13)} ${r.availability.padEnd(8)} ${r.certificate.padEnd(15)} ${r.lastSeenAt ? new Date(r.lastSeenAt).toISOString() : 'never seen'}`,
  )
  io.stdout(`${'DEVICE'.padEnd(24)} ${'SOURCE'.padEnd(13)} ${'STATE'.padEnd(8)} ${'CERTIFICATE'.padEnd(15)} LAST SEEN\n${lines.join('\n')}\n`)
}
