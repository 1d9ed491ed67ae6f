import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import { openApiDocument, ROUTE_DOCS } from '../../../gateway/src/api/openapi.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { httpsGet } from '../../_support/https-get.js'

const VERSION = (JSON.parse(readFileSync(new URL('../../../gateway/package.json', import.meta.url), 'utf8')) as { version: string }).version

describe('the OpenAPI document', () => {
  test('is a valid OpenAPI 3.1 document (independent validator)', async () => {
    const result = await new Validator().validate(openApiDocument(VERSION))
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2))
  })

  test('lists exactly the routes the app registers', async () => {
    const h = await startGateway()
    const registered = (h.gateway.http.app['~routes'] ?? [])
      .map((r) => `${String(r.method).toLowerCase()} ${String(r.route).replace(/:([a-z_]+)/g, '{$1}')}`)
      .sort()
    const documented = ROUTE_DOCS.map((r) => `${r.method} ${r.path}`).sort()
    assert.deepEqual(registered, documented)
  })

  test('is served at /api/openapi.json without a token', async () => {
    const h = await startGateway()
    const res = await httpsGet(`https://127.0.0.1:${h.httpPort}/api/openapi.json`, h.gateway.pki.ca.certPem)
    assert.equal(res.status, 200)
    assert.equal((JSON.parse(res.body) as { openapi: string }).openapi, '3.1.0')
  })

  test('the committed gateway/openapi.json is current (run `npm run openapi` after changing routes)', () => {
    const committed = readFileSync(new URL('../../../gateway/openapi.json', import.meta.url), 'utf8')
    // assert.ok, not assert.equal: node's diff of two long, slightly different strings runs for minutes.
    assert.ok(committed === `${JSON.stringify(openApiDocument(VERSION), null, 2)}\n`, 'gateway/openapi.json is stale: run `npm run openapi`')
  })
})
