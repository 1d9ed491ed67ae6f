import { execFile } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { fileTail, onPath, ServerProcess } from './server-process.js'
import { freePort } from './temp.js'

/**
 * A real MariaDB server (Debian's mariadb-server 10.11) for tests: loopback only, on a free port,
 * with a throw-away data folder that also holds its socket, pid file and error log.
 *
 * - Clean-up is module-level, as in tsdb-servers.ts, and not tempDir(): node:test runs an after()
 *   registered inside a before() hook as soon as that hook ends, so a server started in before()
 *   would lose its data folder at once. One after() registered when this module is imported stops
 *   every server by PID and only then removes the folders; a process 'exit' handler SIGKILLs
 *   whatever is left (--test-force-exit).
 * - The server runs as the `mysql` user, switched to by `setpriv` BEFORE mariadbd starts, together
 *   with `--pdeathsig KILL`: the kernel kills the server if the test process dies without cleaning
 *   up. Started as root with only `--user=mysql`, mariadbd would setuid() itself, and a change of
 *   effective uid clears the parent-death signal (checked: the server outlived its parent).
 * - `--no-defaults` ignores /etc/mysql entirely, so the Debian settings that matter are repeated
 *   here: bind 127.0.0.1 and utf8mb4/utf8mb4_general_ci (the compiled-in default is latin1).
 * - root@localhost authenticates by unix_socket only: admin() works because the tests run as the
 *   OS root user; over TCP only the users made by createDatabase() can log in.
 */

export interface MariaDb {
  readonly port: number
  /** The unix socket (root's way in, see admin()). */
  readonly socket: string
  readonly pid: number
  /** mysql://user:password@127.0.0.1:PORT/database; user and password default to the ones createDatabase() made for it. */
  url(database: string, user?: string, password?: string): string
  /** Runs SQL as root over the socket (`mariadb --batch -e`); resolves to its output (tab-separated, with a header row). */
  admin(sql: string): Promise<string>
  /** A database plus user@'127.0.0.1' and user@'localhost' with this password, granted `grants` (default ALL PRIVILEGES) on it. */
  createDatabase(name: string, user: string, password: string, grants?: string): Promise<void>
  /** SIGTERM, wait for the exit; SIGKILL after 10 s. */
  stop(): Promise<void>
}

const servers = new Set<Server>()
const dirs: string[] = []
after(async () => {
  await Promise.all([...servers].map((s) => s.stop()))
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/**
 * Whether startMariaDb() can run here: mariadbd and mariadb-install-db on PATH (scripts/install-test-deps.sh
 * installs mariadb-server as root), and running as root, which hands the data folder to the `mysql` user.
 */
export function mariadbAvailable(): boolean {
  return onPath('mariadbd') && onPath('mariadb-install-db') && process.getuid?.() === 0
}

function run(cmd: string, args: string[], timeout = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed (${err.code ?? err.signal ?? err.message}): ${stderr.trim() || stdout.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

/** A string literal for SQL (NO_BACKSLASH_ESCAPES is off by default). */
const literal = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
const identifier = (s: string) => `\`${s.replaceAll('`', '``')}\``

/** Small and quick rather than durable; shared by mariadb-install-db and mariadbd so the files match. */
const serverOptions = [
  '--skip-log-bin',
  '--innodb-buffer-pool-size=64M',
  '--innodb-log-file-size=16M',
  '--innodb-flush-log-at-trx-commit=2',
  '--innodb-buffer-pool-dump-at-shutdown=OFF',
  '--innodb-buffer-pool-load-at-startup=OFF',
  '--character-set-server=utf8mb4',
  '--collation-server=utf8mb4_general_ci',
]

class Server implements MariaDb {
  readonly socket: string
  readonly #credentials = new Map<string, { user: string; password: string }>()
  readonly #process: ServerProcess

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.socket = join(dir, 'mysqld.sock')
    const log = join(dir, 'error.log')
    // mariadbd writes to --log-error once it has parsed its options; anything before that (a bad option) goes to the console log.
    const consoleLog = join(dir, 'console.log')
    this.#process = new ServerProcess({
      name: 'mariadbd',
      argv: [
        'mariadbd',
        '--no-defaults',
        '--user=mysql',
        `--datadir=${dir}`,
        `--socket=${this.socket}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--log-error=${log}`,
        '--skip-name-resolve',
        ...serverOptions,
      ],
      cwd: dir,
      output: consoleLog,
      user: 'mysql',
      ready: async () => {
        await run('mariadb-admin', ['--no-defaults', `--socket=${this.socket}`, '--connect-timeout=2', 'ping'], 5000)
        return true
      },
      readyTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
      logs: () => `${fileTail(log)}\n${fileTail(consoleLog, 10)}`,
    })
    servers.add(this)
  }

  get pid(): number {
    return this.#process.pid
  }

  start(): Promise<void> {
    return this.#process.start()
  }

  stop(): Promise<void> {
    return this.#process.stop()
  }

  url(database: string, user?: string, password?: string): string {
    const known = this.#credentials.get(database)
    const u = user ?? known?.user
    if (u === undefined) throw new Error(`no user for database ${database}: pass one, or make it with createDatabase()`)
    const p = password ?? (known?.user === u ? known.password : '')
    const auth = p === '' ? encodeURIComponent(u) : `${encodeURIComponent(u)}:${encodeURIComponent(p)}`
    return `mysql://${auth}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`
  }

  admin(sql: string): Promise<string> {
    return run('mariadb', ['--no-defaults', `--socket=${this.socket}`, '-uroot', '--batch', '-e', sql])
  }

  async createDatabase(name: string, user: string, password: string, grants = 'ALL PRIVILEGES'): Promise<void> {
    const db = identifier(name)
    const statements = [`CREATE DATABASE ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`]
    // Both hosts: with --skip-name-resolve a TCP login from 127.0.0.1 matches only '127.0.0.1', a socket login only 'localhost'.
    for (const host of ['127.0.0.1', 'localhost']) {
      const account = `${literal(user)}@${literal(host)}`
      // IF NOT EXISTS + ALTER: one user may own several databases (the latest password wins).
      statements.push(`CREATE USER IF NOT EXISTS ${account}`, `ALTER USER ${account} IDENTIFIED BY ${literal(password)}`)
      statements.push(`GRANT ${grants} ON ${db}.* TO ${account}`)
    }
    await this.admin(`${statements.join(';\n')};`)
    this.#credentials.set(name, { user, password })
  }
}

/** Initialises a fresh data folder (≈1 s) and starts mariadbd on it; resolves once it answers a ping. */
export async function startMariaDb(): Promise<MariaDb> {
  const dir = mkdtempSync(join(tmpdir(), 'carehub-mariadb-'))
  dirs.push(dir)
  const [uid, gid] = await Promise.all([run('id', ['-u', 'mysql']), run('id', ['-g', 'mysql'])])
  chownSync(dir, Number(uid.trim()), Number(gid.trim()))
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${dir}`,
    '--user=mysql',
    '--auth-root-authentication-method=socket',
    '--skip-test-db',
    ...serverOptions,
  ])
  const server = new Server(dir, await freePort())
  await server.start()
  return server
}
