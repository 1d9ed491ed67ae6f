// Re-renders the Markdown and PNG of a stored result without re-running the bench, e.g. after the report
// layout changed:  node --import tsx tests/bench/report/render.ts tests/bench/results/<date>.json
// Writes <date>.md and <date>.png beside the JSON.

import { readFile, writeFile } from 'node:fs/promises'
import type { BenchResult } from '../lib/result.js'
import { writeChartPng } from './chart.js'
import { renderMarkdown } from './markdown.js'

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}

const input = process.argv[2]
if (!input || process.argv.length > 3) fail('usage: node --import tsx tests/bench/report/render.ts <result.json>', 2)

let result: BenchResult
try {
  result = JSON.parse(await readFile(input, 'utf8')) as BenchResult
} catch (err) {
  fail(`cannot read ${input}: ${(err as Error).message}`, 1)
}
// Only a shallow check: a file that is not a bench result at all should fail here, not deep inside a renderer.
if (typeof result !== 'object' || result === null || !Array.isArray(result.cells) || !Array.isArray(result.targets) || !result.context) {
  fail(`${input} does not look like a bench result (cells, targets or context missing)`, 1)
}

const base = input.replace(/\.json$/i, '')
await writeFile(`${base}.md`, renderMarkdown(result))
await writeChartPng(result, `${base}.png`)
process.stdout.write(`wrote ${base}.md and ${base}.png\n`)
