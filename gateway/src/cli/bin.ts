import { runCli } from './run.js'

/** The `carehub` process: wires runCli to the real process (argv, stdio, exit code). */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('type the password, then Enter and Ctrl-D (it will be shown; prefer piping it in)\n')
  }
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

process.umask(0o077)
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stdin: readStdin,
  now: () => Date.now(),
})
