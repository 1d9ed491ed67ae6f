// Regenerates gateway/openapi.json from the route documentation and zod schemas (npm run openapi).
// A test fails when the committed file and the code drift apart.
import { readFileSync, writeFileSync } from 'node:fs'
import { openApiDocument } from '../gateway/src/api/openapi.js'

const version = (JSON.parse(readFileSync(new URL('../gateway/package.json', import.meta.url), 'utf8')) as { version: string }).version
const path = new URL('../gateway/openapi.json', import.meta.url)
writeFileSync(path, `${JSON.stringify(openApiDocument(version), null, 2)}\n`)
process.stdout.write(`wrote ${path.pathname}\n`)
