import { assertCloudUrl } from './cloud-client.js'

export interface EnrolAnswer {
  readonly gatewayId: string
  readonly homeId: number
  readonly secret: string
}

/**
 * Exchange an installer's one-time code for this box's cloud credential (POST /v1/enrol). The
 * secret comes back once; the caller stores it encrypted (SecretStore, `cloud.secret`).
 */
export async function enrolWithCloud(url: string, code: string, gatewayId: string, name: string, timeoutMs = 15_000): Promise<EnrolAnswer> {
  const base = assertCloudUrl(url)
  const res = await fetch(new URL('v1/enrol', base.href.endsWith('/') ? base : `${base.href}/`), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, gatewayId, name }),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  })
  const body = (await res.json().catch(() => null)) as (Partial<EnrolAnswer> & { detail?: string }) | null
  if (!res.ok || !body?.secret || body.homeId === undefined) {
    throw new Error(`the cloud service refused the enrolment (${res.status}): ${body?.detail ?? 'no answer'}`)
  }
  return { gatewayId: body.gatewayId ?? gatewayId, homeId: body.homeId, secret: body.secret }
}
