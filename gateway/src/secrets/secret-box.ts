import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as age from 'age-encryption'
import { CarehubError } from '../core/errors.js'
import { createFileExclusive, writeFileAtomic } from '../system/atomic-file.js'

/**
 * Secrets at rest (DESIGN invariant 5) are age-encrypted to an X25519 identity kept in the data
 * folder, mode 0600. X25519 costs ~15 ms per operation; age's passphrase (scrypt) mode is never used
 * because it blocks the event loop for ~1.7 s (dependencies notes §10). What this buys: a copied
 * database or backup without the identity file reveals no secret; moving the identity to a TPM or a
 * separate partition later changes only this file.
 */
export class SecretBox {
  readonly #identity: string
  readonly #recipient: string

  private constructor(identity: string, recipient: string) {
    this.#identity = identity
    this.#recipient = recipient
  }

  static async open(dir: string): Promise<SecretBox> {
    const path = join(dir, 'identity.age')
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (!existsSync(path)) createFileExclusive(path, `${await age.generateIdentity()}\n`, 0o600)
      const identity = readFileSync(path, 'utf8').trim()
      if (!identity.startsWith('AGE-SECRET-KEY-1')) throw new Error('the file does not hold an age X25519 identity')
      return new SecretBox(identity, await age.identityToRecipient(identity))
    } catch (err) {
      throw new CarehubError('CAREHUB_ERR_SECRETS', `secrets identity ${path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async encrypt(plain: string | Uint8Array): Promise<string> {
    const e = new age.Encrypter()
    e.addRecipient(this.#recipient)
    return age.armor.encode(await e.encrypt(plain))
  }

  async decrypt(armored: string, what: string): Promise<string> {
    try {
      const d = new age.Decrypter()
      d.addIdentity(this.#identity)
      return await d.decrypt(age.armor.decode(armored), 'text')
    } catch (err) {
      throw new CarehubError('CAREHUB_ERR_SECRETS', `cannot decrypt ${what}: ${(err as Error).message} (was the identity file replaced?)`, {
        cause: err,
      })
    }
  }

  /** Write a secret file encrypted, owner-only, atomically (old or new content after a power cut). */
  async writeFile(path: string, plain: string): Promise<void> {
    writeFileAtomic(path, await this.encrypt(plain), 0o600)
  }

  async readFile(path: string): Promise<string> {
    return this.decrypt(readFileSync(path, 'utf8'), path)
  }
}
