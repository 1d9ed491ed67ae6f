import { request } from 'node:https'

export interface SimpleResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

/** GET over real TLS, trusting only the given CA (the box's own), as a LAN client would. */
export function httpsGet(url: string, ca: string | Buffer, headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, servername: 'localhost' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
