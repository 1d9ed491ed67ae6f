#!/usr/bin/env bash
# CareHub on InfluxDB 2.x: buckets, the downsampling tasks, tokens for the gateway and Grafana, and a
# DBRP mapping so the InfluxQL dashboard in config/grafana works against 2.x unchanged.
#
# Needs the influx CLI (2.x) pointed at your server with an all-access (operator) token, e.g.
#   influx config create --config-name carehub --host-url http://127.0.0.1:8086 --org carehub --token … --active
# then:  INFLUX_ORG=carehub bash config/influxdb/v2/setup.sh
#
# Safe to run again: buckets and tokens that exist are kept (tokens are never printed twice: to rotate
# one, delete it with `influx auth delete --id …` and run this again), tasks are updated in place.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
org=${INFLUX_ORG:-carehub}

bucket_id() { influx bucket list --org "$org" --name "$1" --hide-headers 2>/dev/null | awk 'NR == 1 { print $1 }'; }
ensure_bucket() {
  local id
  id=$(bucket_id "$1")
  if [ -z "$id" ]; then
    influx bucket create --org "$org" --name "$1" --retention "$2" >/dev/null
    id=$(bucket_id "$1")
  fi
  echo "$id"
}
# raw readings for 90 days; rollups (tag tier=1m|5m|1h) for two years
sensors=$(ensure_bucket sensors 90d)
sensors_agg=$(ensure_bucket sensors_agg 730d)
echo "buckets: sensors=$sensors sensors_agg=$sensors_agg"

# Tasks by name: the name comes from `option task = {name: …}` in each file.
for tier in 1m 5m 1h; do
  file="$here/downsample-$tier.flux"
  id=$(influx task list --org "$org" --hide-headers | awk -v n="carehub-downsample-$tier" '$2 == n { print $1 }')
  if [ -n "$id" ]; then
    influx task update --id "$id" --file "$file" >/dev/null
  else
    influx task create --org "$org" --file "$file" >/dev/null
  fi
  echo "task carehub-downsample-$tier: ok"
done

# Tokens, by description (no spaces: the table output is split on blanks).
auth_exists() { influx auth list --org "$org" --hide-headers | awk -v d="$1" '$2 == d { found = 1 } END { exit !found }'; }
if auth_exists carehub-gateway; then
  echo "token carehub-gateway exists (kept)"
else
  # The gateway only writes readings: write access to `sensors`, nothing else.
  token=$(influx auth create --org "$org" --write-bucket "$sensors" --description carehub-gateway --hide-headers | awk '{ print $3 }')
  echo "token carehub-gateway (put it in the gateway's influx.token): $token"
fi
if auth_exists carehub-grafana; then
  echo "token carehub-grafana exists (kept)"
else
  token=$(influx auth create --org "$org" --read-bucket "$sensors" --read-bucket "$sensors_agg" --description carehub-grafana --hide-headers | awk '{ print $3 }')
  echo "token carehub-grafana (CAREHUB_INFLUX_TOKEN for config/grafana): $token"
fi

# InfluxQL over 2.x: database "carehub", policy "raw" -> bucket sensors (default).
if influx v1 dbrp list --org "$org" --db carehub --hide-headers 2>/dev/null | grep -q .; then
  echo "dbrp carehub/raw exists (kept)"
else
  influx v1 dbrp create --org "$org" --db carehub --rp raw --bucket-id "$sensors" --default >/dev/null
  echo "dbrp carehub/raw -> sensors: ok"
fi
