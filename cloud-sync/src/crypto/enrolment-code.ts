import { randomBytes } from 'node:crypto'

/**
 * A one-time enrolment code: 128 random bits, base64url. Never starting with "-": the installer
 * passes it to `carehub cloud enroll <url> <code>`, whose argument parser (node:util parseArgs)
 * reads a leading "-" as an option and refuses it — 1 code in 64 before this (seen as a flaky
 * test). Drawing again in that case costs 0.02 bits.
 */
export function newEnrolmentCode(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const code = random(16).toString('base64url')
    if (!code.startsWith('-')) return code
  }
}
