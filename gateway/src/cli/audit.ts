import { CarehubError } from '../core/errors.js'
import { verifyAuditChain } from '../store/audit.js'
import { type CliContext, type CliIo, withStore } from './context.js'

/**
 * `carehub audit verify [--json]`: recompute the audit log's hash chain. A broken chain (an entry
 * edited, inserted or removed outside the gateway) is an error exit naming the first bad entry.
 * Without an external anchor a rewrite of the whole chain from its start is not detectable; the
 * cloud sync issue ships the head hash off the box (ASVS 16.4.3).
 */
export async function auditVerify(ctx: CliContext, io: CliIo, json: boolean): Promise<void> {
  const report = await withStore(ctx, io.now(), verifyAuditChain, { readOnly: true })
  if (json) io.stdout(`${JSON.stringify(report, null, 2)}\n`)
  if (report.broken) {
    throw new CarehubError(
      'CAREHUB_ERR_VALIDATION',
      `audit log broken at entry ${report.broken.id}: ${report.broken.reason} (${report.entries} entries read); keep a copy of the database for investigation`,
    )
  }
  if (!json) {
    const legacy = report.unchained ? `, ${report.unchained} older unchained` : ''
    io.stdout(`audit log intact: ${report.entries} entries${legacy}; head ${report.head ?? '(empty)'}\n`)
  }
}
