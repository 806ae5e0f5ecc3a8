#!/usr/bin/env bash
# Installs the pinned CI tools into bin/ from the Go module proxy (the only
# place this machine can fetch Go code from): golangci-lint, govulncheck, and
# indexdb, which turns the OSV files of the golang.org/x/vulndb module into a
# local vulnerability database (vuln.go.dev is not reachable; see
# .ci/vulncheck.sh). Skips a tool that is already at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
GOLANGCI_LINT_VERSION=v2.15.0
GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
mkdir -p bin .tmp/tools
install() { # name, module/pkg, version
  local stamp=.tmp/tools/$1.version
  if [ -x "bin/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$3" ]; then return 0; fi
  GOBIN=$PWD/bin go install "$2@$3"
  echo "$3" > "$stamp"
}
install golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION"
install govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION"
install indexdb golang.org/x/vulndb/cmd/indexdb "$VULNDB_VERSION"
echo "$VULNDB_VERSION" > .tmp/tools/vulndb.version
