import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { InfluxV1Sink } from '../../../gateway/src/timeseries/influx-v1-sink.js'
import { InfluxV2Sink } from '../../../gateway/src/timeseries/influx-v2-sink.js'
import { captureLogger } from '../../_support/log-capture.js'

/** What each sink puts on the wire for credentials, read by a plain loopback HTTP server (VictoriaMetrics ignores tokens). */
async function recorder() {
  const seen: Array<{ url: string; headers: IncomingHttpHeaders; raw: Buffer; body: string }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      seen.push({
        url: req.url ?? '',
        headers: req.headers,
        raw,
        body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString(),
      })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  after(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const LINE = 'climate,device=d,source=mqtt temp_c=21 1795000000000'

describe('time-series sinks: credentials come from the secret store at each write', () => {
  test('v2: "Authorization: Token <influx.token>"; a rotated token is used from the next write', async () => {
    const r = await recorder()
    let token: string | undefined = 'first-token'
    const sink = new InfluxV2Sink({ url: r.url, org: 'home', bucket: 'sensors', timeoutMs: 5000 }, captureLogger('silent').log, async () => token)
    await sink.write([LINE])
    token = 'rotated-token'
    await sink.write([LINE])
    assert.deepEqual(
      r.seen.map((s) => s.headers.authorization),
      ['Token first-token', 'Token rotated-token'],
    )
    assert.match(r.seen[0]?.url ?? '', /^\/api\/v2\/write\?org=home&bucket=sensors&precision=ms/)
    assert.equal(r.seen[0]?.body, LINE)
  })

  test('v1: /write?db&rp&precision=ms, gzipped, HTTP Basic with influx.password — never in the URL', async () => {
    const r = await recorder()
    const sink = new InfluxV1Sink({ url: r.url, database: 'carehub', retentionPolicy: 'raw', username: 'gw', timeoutMs: 5000 }, async () => 's3cret')
    const lines = Array.from({ length: 40 }, () => LINE)
    await sink.write(lines)
    const req = r.seen[0]
    assert.equal(req?.url, '/write?db=carehub&precision=ms&rp=raw')
    assert.equal(req?.headers['content-encoding'], 'gzip')
    assert.equal(req?.headers.authorization, `Basic ${Buffer.from('gw:s3cret').toString('base64')}`)
    assert.equal(req?.body, lines.join('\n'))
  })
})

describe('time-series sinks: the body', () => {
  const sinks = (url: string) => [
    new InfluxV2Sink({ url, org: 'home', bucket: 'sensors', timeoutMs: 5000 }, captureLogger('silent').log, async () => 't'),
    new InfluxV1Sink({ url, database: 'carehub', timeoutMs: 5000 }, async () => undefined),
  ]

  test('a batch over 1 kB goes gzipped at the fastest level (gzip XFL = 4, RFC 1952 §2.3.1); a short one as it is', async () => {
    const r = await recorder()
    const many = Array.from({ length: 200 }, (_, i) => `climate,device=d${i % 7},source=mqtt temp_c=${20 + i / 10} ${1795000000000 + i}`)
    for (const sink of sinks(r.url)) {
      await sink.write(many)
      await sink.write([LINE])
    }
    assert.equal(r.seen.length, 4)
    for (const [i, req] of r.seen.entries()) {
      if (i % 2 === 0) {
        assert.equal(req.headers['content-encoding'], 'gzip')
        assert.equal(req.raw[8], 4, 'XFL: compressed with the fastest algorithm')
        assert.ok(req.raw.length * 5 < Buffer.byteLength(many.join('\n')), `${req.raw.length} bytes: line protocol compresses well`)
        assert.equal(req.body, many.join('\n'))
      } else {
        assert.equal(req.headers['content-encoding'], undefined)
        assert.equal(req.body, LINE)
      }
    }
  })
})
