#!/usr/bin/env bash
# govulncheck without vuln.go.dev (not reachable from CI): the Go
# vulnerability database's OSV files ship in the golang.org/x/vulndb module,
# which the Go module proxy serves. indexdb (from that same module) turns its
# data/osv folder into the v1 database layout govulncheck reads with
# -db file://. The database is as new as the pinned vulndb version in
# .ci/tools.sh; bump it there to pick up newer reports.
#
# The standard library is checked at go.mod's toolchain line (the patched Go
# release builds use, fetched as golang.org/toolchain from the module proxy),
# not at the older Go this machine may have installed.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/tools.sh
vulndb_version=$(cat .tmp/tools/vulndb.version)
db=$PWD/.tmp/vulndb/$vulndb_version
if [ ! -s "$db/index/modules.json" ]; then
  src=$(go mod download -json "golang.org/x/vulndb@$vulndb_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/data/osv" ] || { echo "vulncheck: $src/data/osv is missing" >&2; exit 1; }
  rm -rf "$db" && mkdir -p "$(dirname "$db")"
  bin/indexdb -vulns "$src/data/osv" -out "$db"
fi
toolchain=$(sed -n 's/^toolchain //p' go.mod)
echo "vulncheck: $(find "$db/ID" -name '*.json' | wc -l) reports from golang.org/x/vulndb@$vulndb_version; standard library of ${toolchain:-$(go env GOVERSION)}"
GOTOOLCHAIN=${toolchain:-local} bin/govulncheck -db "file://$db" ./...
