import { hashPassword } from '../auth/password.js'
import { CarehubError } from '../core/errors.js'
import { appendAudit } from '../store/audit.js'
import { insertUser, ROLES, type Role, USERNAME_PATTERN } from '../store/users.js'
import { type CliContext, type CliIo, withStore } from './context.js'

export interface UserAddArgs {
  readonly username: string | undefined
  readonly role: string | undefined
  readonly passwordStdin: boolean
}

/** `carehub user add <username> --role <role> --password-stdin` */
export async function userAdd(ctx: CliContext, io: CliIo, args: UserAddArgs): Promise<void> {
  const { username } = args
  if (!username) throw usage('give the username: carehub user add <username> --role <role> --password-stdin')
  if (!USERNAME_PATTERN.test(username)) {
    throw new CarehubError(
      'CAREHUB_ERR_VALIDATION',
      `username "${username}": use 3–64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`,
    )
  }
  if (!args.role) throw usage(`give a role with --role (one of ${ROLES.join(', ')})`)
  if (!(ROLES as readonly string[]).includes(args.role)) {
    throw new CarehubError('CAREHUB_ERR_VALIDATION', `unknown role "${args.role}": choose one of ${ROLES.join(', ')}`)
  }
  if (!args.passwordStdin) {
    // Never on the command line: argv is visible to every user in `ps` and lands in shell history.
    throw usage(
      'pass the password on standard input with --password-stdin, e.g.  printf %s "$PW" | carehub user add alice --role admin --password-stdin',
    )
  }
  const password = stripOneNewline(await io.stdin())
  if (password.length === 0) throw new CarehubError('CAREHUB_ERR_VALIDATION', 'no password arrived on standard input')
  const passwordHash = await hashPassword(password, username)
  const now = io.now()
  const user = await withStore(ctx, now, (db) =>
    db
      .transaction(() => {
        const row = insertUser(db, { username, role: args.role as Role, passwordHash, now })
        appendAudit(db, { at: now, actor: 'cli', action: 'user.create', target: `user:${row.id}`, detail: { username, role: row.role } })
        return row
      })
      .immediate(),
  )
  io.stdout(`user "${user.username}" added with role ${user.role} (id ${user.id})\n`)
}

function stripOneNewline(text: string): string {
  return text.replace(/\r?\n$/, '')
}

function usage(message: string): CarehubError {
  return new CarehubError('CAREHUB_ERR_USAGE', message)
}
