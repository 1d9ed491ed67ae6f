import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * Gateways' HMAC secrets at rest: AES-256-GCM under the service's key (CLOUD_CREDENTIAL_KEY), so a
 * copy of the database alone cannot forge a gateway's requests. Layout: 12-byte IV, 16-byte tag,
 * ciphertext.
 */
export class CredentialBox {
  readonly #key: Buffer

  constructor(keyBase64: string) {
    this.#key = Buffer.from(keyBase64, 'base64')
    if (this.#key.length !== 32) throw new Error('the credential key must be 32 bytes')
  }

  seal(secret: string): Buffer {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body])
  }

  open(sealed: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, 12))
    decipher.setAuthTag(sealed.subarray(12, 28))
    return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8')
  }
}
