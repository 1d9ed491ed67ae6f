import { spawnSync } from 'node:child_process'

export interface OpensslResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run Debian's openssl CLI: an independent verifier for what @peculiar/x509 and node:crypto produce. */
export function openssl(args: readonly string[], input?: string): OpensslResult {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** `openssl x509 -noout -text` of a PEM certificate. */
export function opensslText(certPem: string): string {
  const r = openssl(['x509', '-noout', '-text'], certPem)
  if (r.status !== 0) throw new Error(`openssl x509 failed: ${r.stderr}`)
  return r.stdout
}
