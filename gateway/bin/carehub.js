#!/usr/bin/env node
// Thin launcher so `npx carehub` works from the repository root: the command itself is compiled
// TypeScript in dist/ (built by `npm ci` through the root `prepare` script, or `npm run build`).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli/bin.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('carehub: the gateway is not built yet — run "npm run build" in the repository first\n')
  process.exit(69)
}
await import(entry.href)
