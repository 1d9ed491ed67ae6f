#!/bin/sh
# Send Home Assistant states to CareHub's signed webhook (POST /api/ingest/ha/<client_id>).
# Home Assistant templates cannot compute an HMAC, so HA runs this script through shell_command
# (README "Connect Home Assistant"). Needs only sh, openssl and curl (all in the HA OS image).
#
#   carehub-webhook.sh <gateway_url> <client_id> <secret_file> <ca_file|""> ['<json body>']
#
# The body (JSON: one state object, an array of them, or {"states": [...]}) is the fifth argument, or
# standard input without it. (Home Assistant runs a templated shell_command without a shell — no
# pipes — so from HA pass the body as the argument.)
# The signature is HMAC-SHA256(secret, "<unix seconds>.<body>") in hex, sent as
# "X-Signature: sha256=<hex>" with "X-Timestamp: <unix seconds>" and "X-Client-Id: <client_id>".
# Exit status: 0 when CareHub stored the states (2xx), 1 otherwise (the answer goes to stderr).
set -eu
url=$1 client=$2 secret_file=$3 ca=${4:-}
if [ $# -ge 5 ]; then body=$5; else body=$(cat); fi
ts=$(date +%s)
secret=$(cat "$secret_file")
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
set -- --silent --show-error --fail-with-body --max-time 10 \
  -H 'Content-Type: application/json' -H "X-Client-Id: $client" -H "X-Timestamp: $ts" -H "X-Signature: sha256=$sig" \
  --data-binary "$body"
if [ -n "$ca" ]; then set -- "$@" --cacert "$ca"; fi
if ! answer=$(curl "$@" "$url/api/ingest/ha/$client"); then
  echo "carehub-webhook: $answer" >&2
  exit 1
fi
