#!/usr/bin/env bash
# The README's test command (`npm test`): installs the Debian peers the interop tests use if
# they are missing (sessions and CI run as root), builds (tests spawn the compiled CLI), runs
# every test, and ends with a plain `N passed, N failed` line.
set -uo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=/usr

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v mbpoll >/dev/null 2>&1 || need+=(mbpoll)
command -v socat >/dev/null 2>&1 || need+=(socat)
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || need+=(python3-pymodbus)
/usr/bin/python3 -c 'import grpc, grpc_tools.protoc' >/dev/null 2>&1 || need+=(python3-grpcio python3-grpc-tools)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing test peers: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}; the interop tests that need them will be skipped"
  else
    echo "warning: not root, cannot install ${need[*]}; the interop tests that need them will be skipped"
  fi
fi

[ -d node_modules ] || npm ci
npm run build --silent || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

rm -f .vitest-report.json
npx vitest run --reporter=default --reporter=json --outputFile=.vitest-report.json "$@"
rc=$?
if [ -f .vitest-report.json ]; then
  # A suite that fails to load (import error, failing hook) has no failed test of its own:
  # count it as one failure so it can never pass silently.
  node -e '
    const r = require("./.vitest-report.json");
    const brokenSuites = (r.testResults || []).filter((s) => s.status === "failed" && !(s.assertionResults || []).some((a) => a.status === "failed")).length;
    // vitest exits non-zero on an unhandled error even when every test passed: count it, so
    // this line never says 0 failed for a run that failed.
    const rc = Number(process.argv[1]);
    let failed = r.numFailedTests + brokenSuites;
    if (rc !== 0 && failed === 0) {
      failed = 1;
      console.log("(vitest exited " + rc + " with no failed test: an unhandled error above counts as one failure)");
    }
    console.log(`${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$rc"
else
  echo "0 passed, 1 failed"
  [ $rc -eq 0 ] && rc=1
fi
exit $rc
