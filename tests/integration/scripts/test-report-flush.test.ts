import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { tempDir } from '../../_support/temp.js'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..', '..')

/** The runner flags of `npm test`, read from scripts/test.sh so this test follows any change there. */
function runnerFlags(): string[] {
  const line = readFileSync(join(root, 'scripts', 'test.sh'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('exec timeout'))
  assert.ok(line, 'scripts/test.sh has its exec line')
  const args = line.split(/\s+/)
  return args.slice(
    args.indexOf('node') + 1,
    args.findIndex((a) => a.includes('files[@]')),
  )
}

// nodejs/node#64833: with --test-force-exit and concurrency, a file's last verdicts could be lost
// while the run still passed. Many small files with long test names fill the report pipe the way
// the real suite does; without scripts/test-report-flush.mjs this loses 26-43 of 1,200 per run here.
test('npm test reports every test of every file (no verdict lost to force-exit)', async () => {
  const dir = tempDir()
  const files: string[] = []
  const perFile = 40
  for (let f = 0; f < 30; f++) {
    const tests = Array.from({ length: perFile }, (_, t) => `test('t${t} ${'x'.repeat(600)}', () => {})`)
    const file = join(dir, `f${f}.test.mjs`)
    writeFileSync(file, `import { test } from 'node:test'\n${tests.join('\n')}\n`)
    files.push(file)
  }
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT // else the nested runner reports to this one instead of to stdout
  for (let round = 0; round < 2; round++) {
    const { stdout } = await run('node', [...runnerFlags(), ...files], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 })
    const reported = /ℹ tests (\d+)/.exec(stdout)?.[1]
    assert.equal(Number(reported), files.length * perFile, `round ${round}: every test reported`)
  }
})
