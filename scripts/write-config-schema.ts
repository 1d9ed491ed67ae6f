// Regenerates config/gateway.schema.json from the zod schema (npm run schema). A unit test fails
// when the committed file and the schema drift apart.
import { writeFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigSchema } from '../gateway/src/config/schema.js'

const path = new URL('../config/gateway.schema.json', import.meta.url)
writeFileSync(path, `${JSON.stringify(z.toJSONSchema(ConfigSchema, { io: 'input' }), null, 2)}\n`)
process.stdout.write(`wrote ${path.pathname}\n`)
