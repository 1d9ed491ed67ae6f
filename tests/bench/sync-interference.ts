// Does the gateway's own disk traffic slow its WAL syncs? WAL-like syncs (20 KiB written in place,
// then fdatasync, 400 a second: bench W1's commit rate and bytes per commit) timed alone and with a
// second process writing beside them as a checkpoint does (5 MB/s of random 4 KiB pages into a
// 64 MiB file, fsync'd every second), or the same writes never synced. Cases alternate per round,
// because this VM's disk has slow periods of its own. Figures, not pass/fail.
//   node --import tsx tests/bench/sync-interference.ts [--seconds 30] [--rounds 2]
import { spawn } from 'node:child_process'
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { percentiles } from './lib/stats.js'

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, rounds: { type: 'string' }, writer: { type: 'string' }, dir: { type: 'string' } },
})
const seconds = Number(values.seconds ?? 30)
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ms))
const PAGE = Buffer.alloc(4096, 7)

/** The second process: checkpoint-like writes into `dir` until killed. */
function writer(dir: string, sync: boolean): void {
  const fd = openSync(join(dir, 'db'), 'w')
  ftruncateSync(fd, 64 << 20)
  for (;;) {
    const started = Date.now()
    for (let i = 0; i < 1250; i++) writeSync(fd, PAGE, 0, PAGE.length, Math.floor(Math.random() * 16384) * 4096)
    if (sync) fsyncSync(fd)
    pause(1000 - (Date.now() - started))
  }
}

/** WAL-like syncs for `seconds`, each timed. */
function walSyncs(dir: string): number[] {
  const fd = openSync(join(dir, 'wal'), 'w')
  const size = 32 << 20
  for (let at = 0; at < size; at += 1 << 20) writeSync(fd, Buffer.alloc(1 << 20), 0, 1 << 20, at)
  fsyncSync(fd)
  const commit = Buffer.alloc(20 * 1024, 1)
  const ms: number[] = []
  let at = 0
  let next = performance.now()
  for (const until = Date.now() + seconds * 1000; Date.now() < until; ) {
    writeSync(fd, commit, 0, commit.length, at)
    at = (at + commit.length) % (size - commit.length)
    const t = performance.now()
    fdatasyncSync(fd)
    ms.push(performance.now() - t)
    next += 1000 / 400
    if (next < performance.now()) next = performance.now()
    pause(next - performance.now())
  }
  closeSync(fd)
  return ms
}

if (values.writer) writer(values.dir as string, values.writer === 'checkpoint')
else {
  const cases = ['alone', 'checkpoint', 'writes, never synced'] as const
  for (let round = 1; round <= Number(values.rounds ?? 2); round++) {
    for (const name of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'carehub-sync-interference-'))
      const bg =
        name === 'alone'
          ? null
          : spawn(
              process.execPath,
              ['--import', 'tsx', fileURLToPath(import.meta.url), '--writer', name === 'checkpoint' ? 'checkpoint' : 'nosync', '--dir', dir],
              {
                stdio: 'inherit',
              },
            )
      try {
        const ms = walSyncs(dir)
        const p = percentiles(ms)
        const over = (limit: number) => ms.filter((x) => x > limit).length
        const f = (x: number | null) => (x === null ? '–' : x.toFixed(2))
        process.stdout.write(
          `round ${round}  ${name.padEnd(21)} syncs ${ms.length}  p50 ${f(p.p50)}  p99 ${f(p.p99)}  p99.9 ${f(p.p999)}  max ${f(p.max)} ms  over 10 ms ${over(10)}  over 100 ms ${over(100)}\n`,
        )
      } finally {
        bg?.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
