#!/usr/bin/env bash
# What `npm run bench` needs on a fresh Debian machine: the peer registry, the load and transfer
# tools, and the npm packages. Installs only what is missing; the S3 scenario's Ceph RGW is
# installed on demand by ../shared/s3/s3-up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "bench needs these Debian packages: ${missing[*]} (install them, or run as root on Debian)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d node_modules/hono ] || npm ci --no-audit --no-fund
