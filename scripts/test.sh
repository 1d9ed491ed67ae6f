#!/usr/bin/env bash
# The whole test suite (CONTRACT: `npm test`). Builds first, because the end-to-end tests run the
# compiled daemon exactly as production does; then runs every tests/**/*.test.ts under Node's own
# runner (TypeScript through tsx). Later issues add here the servers their tests need
# (scripts/test-services.sh: MariaDB, VictoriaMetrics, InfluxDB 1.x, Mosquitto clients, SMTP).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
npm run build --silent

mapfile -t files < <(find tests -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found under tests/" >&2
  exit 1
fi
# Two cores: e2e tests spawn daemons, so run files two at a time. A test over 2 min fails, a file
# whose tests are done exits even if a handle leaked, and the whole run is bounded: a hang must
# fail CI in minutes, not eat its 90. Force-exit loses the last verdicts of a file now and then
# (nodejs/node#64833); the preloaded scripts/test-report-flush.mjs stops that.
exec timeout --kill-after=30 1200 node --import tsx --import ./scripts/test-report-flush.mjs --test --test-concurrency=2 --test-timeout=120000 --test-force-exit --test-reporter=spec "${files[@]}"
