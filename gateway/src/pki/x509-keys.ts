import 'reflect-metadata' // @peculiar/x509 (via tsyringe) needs the Reflect metadata polyfill loaded first.
import { randomBytes, webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

/**
 * Key and serial helpers shared by the CA and the certificates it issues. EC P-256 with ECDSA-SHA256:
 * what ESP32's mbedTLS handles fast and every TLS 1.2/1.3 client accepts.
 * @peculiar/x509 was chosen over spawning openssl: no private key ever touches a temp file or a
 * command line, generation is in-process (~10 ms), and it runs the same on a Pi and in tests.
 */
export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

export const crypto = webcrypto
export type CryptoKey = webcrypto.CryptoKey

export { x509 }

export async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY')
}

export async function privateKeyFromPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem)
  return crypto.subtle.importKey('pkcs8', der, EC_ALGORITHM, true, ['sign'])
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets, unique per CA; 16 random bytes make collisions moot. */
export function newSerialNumber(): string {
  const bytes = randomBytes(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01
  return bytes.toString('hex')
}
