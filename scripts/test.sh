#!/usr/bin/env bash
# The README's test command (`npm test`): installs the Debian peers the interop tests use if
# they are missing (sessions and CI run as root), builds (tests spawn the compiled CLI), runs
# every test, names every skipped test, and ends with a plain `N passed, N failed, N skipped`
# line. With CI=true a test whose peer is missing fails instead of skipping (test/peers.ts).
set -uo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=/usr

# Every Debian package a test talks to (the same list as .ci/run). pymodbus needs pyserial and
# serial_asyncio to import, which --no-install-recommends leaves out, hence the explicit names.
PEERS=(mosquitto mosquitto-clients mbpoll socat python3-pymodbus python3-serial python3-serial-asyncio
  python3-grpcio python3-grpc-tools prometheus influxdb redis-server mariadb-server chromium)
need=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PEERS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
else
  echo "warning: no dpkg here; the tests whose peers are missing will be skipped (and fail with CI=true)"
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing test peers: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}; the tests that need them will be skipped (and fail with CI=true)"
  else
    echo "warning: not root, cannot install ${need[*]}; the tests that need them will be skipped (and fail with CI=true)"
  fi
fi

[ -d node_modules ] || npm ci
npm run build --silent || { echo "build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

rm -f .vitest-report.json
npx vitest run --reporter=default --reporter=json --outputFile=.vitest-report.json "$@"
rc=$?
if [ -f .vitest-report.json ]; then
  node scripts/summary.mjs .vitest-report.json "$rc"
else
  echo "0 passed, 1 failed, 0 skipped"
  [ $rc -eq 0 ] && rc=1
fi
exit $rc
