#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as independent, real peers, when missing.
# Idempotent and quick when everything is present; needs root (CI and dev machines run as root).
#   openssl          — verifies the certificates our CA issues
#   age              — decrypts what SecretBox encrypted (and the reverse)
#   systemd          — systemd-analyze verifies config/systemd/carehub.service
#   mosquitto-clients — mosquitto_pub/mosquitto_sub, a third-party MQTT client for the broker tests
#   victoria-metrics — a real time-series store the forwarder writes to (tests/_support/tsdb-servers.ts)
#   influxdb         — influxd 1.x, the real peer for the forwarder and config/influxdb/v1 (same helper)
#   mariadb-server   — mariadbd 10.11, the MySQL-compatible store behind cloud-sync (tests/_support/mariadb.ts)
# The tests start their own servers on loopback with throw-away data. This image (policy-rc.d, no
# systemd) starts no service on install; with systemd, apt would start the packaged services (:8086, :8428,
# and mariadb on 127.0.0.1:3306).
set -euo pipefail

declare -A need=([openssl]=openssl [age]=age [systemd-analyze]=systemd [mosquitto_pub]=mosquitto-clients
  [victoria-metrics]=victoria-metrics [influxd]=influxdb [mariadbd]=mariadb-server)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${missing[*]} and not root; tests that need them will be skipped" >&2
  exit 0
fi
echo "install-test-deps: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
