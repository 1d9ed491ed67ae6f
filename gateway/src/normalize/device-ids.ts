import { createHash } from 'node:crypto'

/**
 * A CareHub device id (`^[a-z0-9][a-z0-9_-]{0,63}$`) from an outside name. Too-long names keep their
 * start and end in a short hash, so two long names that share a prefix never merge into one device.
 */
export function deviceIdFrom(prefix: string, name: string): string {
  const id = `${prefix}${name.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`
  if (id.length <= 64) return id
  return `${id.slice(0, 55)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`
}
