// Preloaded into every test process by scripts/test.sh (the runner passes its --import flags on to
// the per-file child processes). With --test-force-exit and --test-concurrency > 1, a child calls
// process.exit() while its last test events may still sit in its non-blocking stdout pipe to the
// parent, so the parent silently reports fewer tests than ran, still exiting 0 (nodejs/node#64833,
// open; fixes proposed in #64857 / #64875). On this machine 30 files x 40 tests lost 26-43 verdicts
// per run. A blocking stdout makes every report write complete before exit can run.
// tests/integration/scripts/test-report-flush.test.ts checks the whole set is reported.
process.stdout._handle?.setBlocking?.(true)
