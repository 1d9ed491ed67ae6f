import { parseArgs } from 'node:util'
import { CarehubError, isCarehubError } from '../core/errors.js'
import { auditVerify } from './audit.js'
import { cloudEnroll } from './cloud.js'
import { type CliIo, cliContext } from './context.js'
import { deviceAdd, deviceList, deviceRevoke } from './device.js'
import { secretDelete, secretList, secretSet } from './secret.js'
import { status } from './status.js'
import { userAdd } from './user-add.js'

export const CLI_USAGE = `Usage: carehub <command>

  device add <device_id> --out <dir> [--renew]   enrol an MQTT device: writes ca.crt, <id>.crt, <id>.key
  device revoke <device_id>                      refuse its certificate; a connected device is cut off
  device list [--json]
  user add <username> --role <admin|caregiver|installer|viewer> --password-stdin
  secret set <name> [--grace 7d]                 store a secret (value on stdin), encrypted; --grace keeps the old one valid
  secret list [--json]                           names and dates, never values
  secret delete <name>
  status [--json]
  audit verify [--json]                          check the audit log's hash chain
  cloud enroll <url> <code>                      join the cloud service with the installer's one-time code

The command works on CAREHUB_DATA_DIR (default ./data) whether or not the gateway runs.`

/**
 * The `carehub` command, without `process`: returns the exit code so tests run it in-process.
 * Errors go to stderr as one sentence a person can act on, with the catalogue's exit code.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        role: { type: 'string' },
        'password-stdin': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        renew: { type: 'boolean', default: false },
        grace: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
    const [command, sub, ...rest] = positionals
    if (values.help || command === undefined || command === 'help') {
      io.stdout(`${CLI_USAGE}\n`)
      return command === undefined && !values.help ? 64 : 0
    }
    if (command === 'cloud' && sub === 'enroll') {
      if (rest.length > 2) throw new CarehubError('CAREHUB_ERR_USAGE', `unexpected argument "${rest[2]}"`)
      await cloudEnroll(cliContext(io), io, rest[0], rest[1])
      return 0
    }
    if (command === 'user' && sub === 'add') {
      if (rest.length > 1) throw new CarehubError('CAREHUB_ERR_USAGE', `unexpected argument "${rest[1]}"`)
      await userAdd(cliContext(io), io, { username: rest[0], role: values.role, passwordStdin: values['password-stdin'] })
      return 0
    }
    if (command === 'device' && (sub === 'add' || sub === 'revoke' || sub === 'list')) {
      if (rest.length > (sub === 'list' ? 0 : 1)) throw new CarehubError('CAREHUB_ERR_USAGE', `unexpected argument "${rest[sub === 'list' ? 0 : 1]}"`)
      const ctx = cliContext(io)
      if (sub === 'add') await deviceAdd(ctx, io, { id: rest[0], out: values.out, renew: values.renew })
      else if (sub === 'revoke') await deviceRevoke(ctx, io, rest[0])
      else await deviceList(ctx, io, values.json)
      return 0
    }
    if (command === 'secret' && (sub === 'set' || sub === 'list' || sub === 'delete')) {
      if (rest.length > (sub === 'list' ? 0 : 1)) throw new CarehubError('CAREHUB_ERR_USAGE', `unexpected argument "${rest[sub === 'list' ? 0 : 1]}"`)
      const ctx = cliContext(io)
      if (sub === 'set') await secretSet(ctx, io, rest[0], values.grace)
      else if (sub === 'list') await secretList(ctx, io, values.json)
      else await secretDelete(ctx, io, rest[0])
      return 0
    }
    if (command === 'audit' && sub === 'verify' && rest.length === 0) {
      await auditVerify(cliContext(io), io, values.json)
      return 0
    }
    if (command === 'status' && sub === undefined) {
      await status(cliContext(io), io, values.json)
      return 0
    }
    throw new CarehubError('CAREHUB_ERR_USAGE', `unknown command "${positionals.join(' ')}" — run "carehub --help"`)
  } catch (err) {
    if (isCarehubError(err)) {
      io.stderr(`carehub: ${err.message}\n`)
      return err.exitCode
    }
    const code = (err as { code?: string }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`carehub: ${(err as Error).message} — run "carehub --help"\n`)
      return 64
    }
    io.stderr(`carehub: unexpected error: ${(err as Error).stack ?? String(err)}\n`)
    return 70
  }
}
