#!/usr/bin/env bash
# The web UI's part of the Maven build (run by control-plane/pom.xml through exec-maven-plugin):
#   maven-build.sh build OUT_DIR   installs the pinned dependencies (npm ci) and builds the UI into OUT_DIR
#   maven-build.sh test            runs the Vitest unit tests
# With no Node.js 18+ and npm on the PATH it says that the UI was skipped and succeeds, so that a checkout
# without Node still builds and tests the Java side (the control plane then serves the API only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

skip() {
  echo "[pipefill-ui] WEB UI SKIPPED: $1; the control plane is built without its web UI (install Node.js 18+ and npm, e.g. apt-get install nodejs npm, to build it)" >&2
  exit 0
}
command -v node >/dev/null 2>&1 || skip "node is not on the PATH"
command -v npm >/dev/null 2>&1 || skip "npm is not on the PATH"
major="$(node -p 'process.versions.node.split(".")[0]')"
(( major >= 18 )) || skip "node $(node --version) is older than 18"

# npm ci only when the lock file changed since the last install (it deletes and rewrites node_modules)
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[pipefill-ui] npm ci (node $(node --version), npm $(npm --version))"
  npm ci --no-audit --no-fund --prefer-offline
fi

case "${1:-}" in
  build)
    out="${2:?usage: maven-build.sh build OUT_DIR}"
    # rebuilt only when a source is newer than the last build in OUT_DIR
    if [[ -f "$out/index.html" && -z "$(find src index.html package-lock.json vite.config.ts tsconfig.json -newer "$out/index.html" -print -quit)" ]]; then
      echo "[pipefill-ui] web UI up to date in $out"
      exit 0
    fi
    echo "[pipefill-ui] building the web UI into $out"
    npx tsc --noEmit
    npx vite build --outDir "$out" --emptyOutDir
    ;;
  test)
    npx vitest run
    ;;
  *)
    echo "usage: maven-build.sh build OUT_DIR | test" >&2
    exit 2
    ;;
esac
