import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import { carehubError } from '../../_support/carehub-error.js'
import { tempDir } from '../../_support/temp.js'

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----'
const ARMOR_END = '-----END AGE ENCRYPTED FILE-----'
const PLAIN = 'the door code is 4711 — ünïcode too'

const mode = (path: string) => statSync(path).mode & 0o777
const hasAgeCli = spawnSync('sh', ['-c', 'command -v age && command -v age-keygen']).status === 0

describe('SecretBox', () => {
  test('open creates an owner-only folder and an owner-only X25519 identity file', async () => {
    const dir = join(tempDir(), 'nested', 'secrets')
    await SecretBox.open(dir)
    const path = join(dir, 'identity.age')
    assert.equal(mode(dir), 0o700)
    assert.equal(mode(path), 0o600)
    const content = readFileSync(path, 'utf8')
    assert.ok(content.startsWith('AGE-SECRET-KEY-1'), `identity file starts with ${JSON.stringify(content.slice(0, 20))}`)
    assert.equal(content.trim().split('\n').length, 1, 'one identity, nothing else')
  })

  test('two folders get two different identities', async () => {
    const a = tempDir()
    const b = tempDir()
    await SecretBox.open(a)
    await SecretBox.open(b)
    assert.notEqual(readFileSync(join(a, 'identity.age'), 'utf8'), readFileSync(join(b, 'identity.age'), 'utf8'))
  })

  test('reopening keeps the identity: what was encrypted before decrypts after', async () => {
    const dir = tempDir()
    const first = await SecretBox.open(dir)
    const identityBefore = readFileSync(join(dir, 'identity.age'), 'utf8')
    const armored = await first.encrypt(PLAIN)
    const second = await SecretBox.open(dir)
    assert.equal(readFileSync(join(dir, 'identity.age'), 'utf8'), identityBefore, 'the identity file is not rewritten')
    assert.equal(await second.decrypt(armored, 'test secret'), PLAIN)
  })

  test('ciphertext is age-armored, does not contain the plaintext, and differs per encryption', async () => {
    const box = await SecretBox.open(tempDir())
    const a = await box.encrypt(PLAIN)
    const b = await box.encrypt(PLAIN)
    assert.ok(a.startsWith(ARMOR_BEGIN), a.slice(0, 40))
    assert.ok(a.trimEnd().endsWith(ARMOR_END), a.slice(-40))
    assert.ok(!a.includes(PLAIN))
    assert.ok(!a.includes('4711'))
    assert.ok(!Buffer.from(a).includes(Buffer.from(PLAIN).toString('base64')), 'plaintext is not merely base64-encoded')
    assert.notEqual(a, b, 'age uses a fresh file key each time')
    assert.equal(await box.decrypt(a, 'a'), PLAIN)
    assert.equal(await box.decrypt(b, 'b'), PLAIN)
  })

  test('encrypt accepts bytes as well as text', async () => {
    const box = await SecretBox.open(tempDir())
    const armored = await box.encrypt(new TextEncoder().encode('bytes in'))
    assert.equal(await box.decrypt(armored, 'bytes'), 'bytes in')
  })

  test('writeFile makes an owner-only armored file that readFile decrypts', async () => {
    const dir = tempDir()
    const box = await SecretBox.open(dir)
    const path = join(dir, 'mqtt-password.age')
    await box.writeFile(path, PLAIN)
    assert.equal(mode(path), 0o600)
    const onDisk = readFileSync(path, 'utf8')
    assert.ok(onDisk.startsWith(ARMOR_BEGIN))
    assert.ok(!onDisk.includes(PLAIN))
    assert.equal(await box.readFile(path), PLAIN)
    // A reopened box reads it too.
    assert.equal(await (await SecretBox.open(dir)).readFile(path), PLAIN)
  })

  test('writeFile replaces the content of an existing secret file', async () => {
    const dir = tempDir()
    const box = await SecretBox.open(dir)
    const path = join(dir, 'token.age')
    await box.writeFile(path, 'old')
    await box.writeFile(path, 'new')
    assert.equal(await box.readFile(path), 'new')
  })

  test('writeFile leaves an owner-only file even when a world-readable file was there before', async () => {
    const dir = tempDir()
    const box = await SecretBox.open(dir)
    const path = join(dir, 'restored.age')
    writeFileSync(path, 'placeholder', { mode: 0o644 })
    await box.writeFile(path, PLAIN)
    assert.equal(await box.readFile(path), PLAIN)
    assert.equal(mode(path).toString(8), '600')
  })

  test('open and writeFile leave no temporary files behind', async () => {
    const dir = tempDir()
    const box = await SecretBox.open(dir)
    await box.writeFile(join(dir, 'a.age'), 'one')
    await box.writeFile(join(dir, 'a.age'), 'two')
    assert.deepEqual(readdirSync(dir).sort(), ['a.age', 'identity.age'])
  })

  test('two boxes opened at once on a new folder end up with one identity', async () => {
    const dir = tempDir()
    const boxes = await Promise.all([SecretBox.open(dir), SecretBox.open(dir), SecretBox.open(dir)])
    assert.deepEqual(readdirSync(dir), ['identity.age'])
    const armored = await Promise.all(boxes.map((b, i) => b.encrypt(`from box ${i}`)))
    for (const box of boxes) {
      for (const [i, a] of armored.entries()) assert.equal(await box.decrypt(a, `box ${i}`), `from box ${i}`)
    }
  })

  test('a replaced identity file makes decrypt and readFile fail with CAREHUB_ERR_SECRETS', async () => {
    const dir = tempDir()
    const box = await SecretBox.open(dir)
    const armored = await box.encrypt(PLAIN)
    const path = join(dir, 'secret.age')
    await box.writeFile(path, PLAIN)

    const other = tempDir()
    await SecretBox.open(other)
    copyFileSync(join(other, 'identity.age'), join(dir, 'identity.age'))
    const replaced = await SecretBox.open(dir)

    await assert.rejects(replaced.decrypt(armored, 'the MQTT password'), carehubError('CAREHUB_ERR_SECRETS', /cannot decrypt the MQTT password/))
    await assert.rejects(replaced.readFile(path), carehubError('CAREHUB_ERR_SECRETS', new RegExp(`cannot decrypt ${path.replaceAll('.', '\\.')}`)))
  })

  test('damaged ciphertext fails with CAREHUB_ERR_SECRETS, not a raw error', async () => {
    const box = await SecretBox.open(tempDir())
    const armored = await box.encrypt(PLAIN)
    await assert.rejects(box.decrypt(armored.slice(0, armored.length / 2), 'half'), carehubError('CAREHUB_ERR_SECRETS', /cannot decrypt half/))
    await assert.rejects(box.decrypt('not age at all', 'junk'), carehubError('CAREHUB_ERR_SECRETS'))
  })

  test('a garbage identity file makes open fail with CAREHUB_ERR_SECRETS naming the file', async () => {
    for (const garbage of ['hello world\n', '', 'AGE-SECRET-KEY-1NOTBECH32\n', '-----BEGIN PRIVATE KEY-----\nabc\n']) {
      const dir = tempDir()
      const path = join(dir, 'identity.age')
      writeFileSync(path, garbage, { mode: 0o600 })
      await assert.rejects(SecretBox.open(dir), carehubError('CAREHUB_ERR_SECRETS', new RegExp(`secrets identity ${path.replaceAll('.', '\\.')}`)))
      assert.equal(readFileSync(path, 'utf8'), garbage, 'a bad identity file is never overwritten')
    }
  })

  test('the identity file interoperates with the age CLI in both directions', async (t) => {
    if (!hasAgeCli) {
      t.skip('age CLI not installed (apt-get install age)')
      return
    }
    const dir = tempDir()
    const box = await SecretBox.open(dir)
    const identity = join(dir, 'identity.age')

    const written = join(dir, 'from-box.age')
    await box.writeFile(written, PLAIN)
    const dec = spawnSync('age', ['-d', '-i', identity, written], { encoding: 'utf8' })
    assert.equal(dec.status, 0, dec.stderr)
    assert.equal(dec.stdout, PLAIN)

    const recipient = spawnSync('age-keygen', ['-y', identity], { encoding: 'utf8' })
    assert.equal(recipient.status, 0, recipient.stderr)
    assert.match(recipient.stdout.trim(), /^age1[0-9a-z]+$/)
    const fromCli = join(dir, 'from-cli.age')
    const enc = spawnSync('age', ['-a', '-r', recipient.stdout.trim(), '-o', fromCli], { encoding: 'utf8', input: 'written by the age CLI' })
    assert.equal(enc.status, 0, enc.stderr)
    assert.ok(existsSync(fromCli))
    assert.equal(await box.readFile(fromCli), 'written by the age CLI')
  })
})
