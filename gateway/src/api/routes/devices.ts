import { getQuery, getRouterParam, type H3, HTTPError } from 'h3'
import { z } from 'zod'
import { certificatesOf } from '../../store/device-certificates.js'
import { getDevice, listDevices } from '../../store/devices.js'
import { latestReadings } from '../../store/journal.js'
import type { Db } from '../../store/open.js'
import { requirePermission } from '../_internal/authenticate.js'

const DeviceQuery = z.strictObject({
  source: z.enum(['mqtt', 'homeassistant', 'thinq', 'virtual']).optional(),
  type: z.string().max(64).optional(),
  room: z.string().max(64).optional(),
})

export interface DeviceRouteDeps {
  readonly db: () => Db
  readonly isSilent: (deviceId: string) => boolean
}

/** GET /api/devices?source&type&room and GET /api/devices/:id (with latest readings and certificates). */
export function deviceRoutes(app: H3, deps: DeviceRouteDeps): void {
  app.get('/api/devices', (event) => {
    requirePermission(event, 'devices:read')
    const query = DeviceQuery.safeParse(getQuery(event))
    if (!query.success) throw new HTTPError({ status: 400, message: 'invalid filter', data: { issues: query.error.issues } })
    return listDevices(deps.db(), query.data).map((d) => ({ ...d, silent: deps.isSilent(d.id) }))
  })

  app.get('/api/devices/:id', (event) => {
    requirePermission(event, 'devices:read')
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const db = deps.db()
    const device = getDevice(db, id)
    if (!device) throw new HTTPError({ status: 404, message: `no device "${id.slice(0, 64)}"` })
    return {
      ...device,
      silent: deps.isSilent(id),
      latest: latestReadings(db, id),
      certificates: certificatesOf(db, id).map(({ fingerprintSha256: _fp, ...c }) => c),
    }
  })
}
