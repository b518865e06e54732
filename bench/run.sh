#!/usr/bin/env bash
# `npm run bench`: raises the open-file limit (5,000 connections need twice that in sockets across
# the processes), makes sure wrk is there, then runs bench/run.ts. Loopback only; bounded loops.
set -euo pipefail
cd "$(dirname "$0")/.."

want=16384
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if [ "$(ulimit -n)" -lt 12000 ]; then
    echo "note: open files limited to $(ulimit -n); the memory benchmark opens 5,000 connections (raise with ulimit -n 16384)" >&2
  fi
fi

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing wrk from Debian (once)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends wrk >/dev/null
  else
    echo "The ingest benchmark needs wrk: run 'sudo apt-get install -y wrk', then npm run bench again." >&2
    exit 1
  fi
fi

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec node --import tsx bench/run.ts "$@"
