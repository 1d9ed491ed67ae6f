/** The gateway's events. Later issues add reading/alert events here, in one typed map. */
export interface GatewayEvents {
  'service:started': { name: string }
  'service:stopped': { name: string }
  'service:error': { name: string; error: Error }
}
