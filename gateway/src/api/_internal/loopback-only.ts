import { getRequestIP, HTTPError, type Middleware } from 'h3'
import { isLoopback } from './loopback.js'

/**
 * Until API authentication exists (its own issue), the API answers loopback clients only: nothing on
 * the LAN may read a vulnerable person's data unauthenticated (DESIGN invariant 5).
 */
export function loopbackOnly(): Middleware {
  return (event) => {
    if (!isLoopback(getRequestIP(event))) {
      throw new HTTPError({ status: 403, message: 'the API answers loopback clients only until API authentication is configured' })
    }
  }
}
