#!/usr/bin/env bash
# Builds the OpenTofu CLI from source through the Go module proxy into
# bin/tofu, next to bin/terraform (.ci/terraform.sh). OpenTofu's go.mod has
# replace directives, so `go install pkg@version` refuses it; the downloaded
# module is built as the main module instead. Without `version.dev=no` the
# binary calls itself "<version>-dev".
set -euo pipefail
cd "$(dirname "$0")/.."
TOFU_VERSION=1.12.6
# Read whole (`| head -1` would end tofu with SIGPIPE under pipefail), with
# an empty CLI config (a missing one adds a warning to stdout).
have() {
  local v
  v=$(TF_CLI_CONFIG_FILE=/dev/null bin/tofu version 2>/dev/null) || return 1
  grep -qx "OpenTofu v$TOFU_VERSION" <<<"$v"
}
if [ -x bin/tofu ] && have; then
  exit 0
fi
echo "building OpenTofu v$TOFU_VERSION from source (about 3.5 minutes on 2 cores)..."
go mod download "github.com/opentofu/opentofu@v$TOFU_VERSION"
dir="$(go env GOMODCACHE)/github.com/opentofu/opentofu@v$TOFU_VERSION"
out=$PWD/bin/tofu
mkdir -p bin
(cd "$dir" && go build -trimpath \
  -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$out.tmp" ./cmd/tofu)
mv "$out.tmp" "$out"
have || { echo "bin/tofu does not report OpenTofu v$TOFU_VERSION" >&2; exit 1; }
echo "built bin/tofu: OpenTofu v$TOFU_VERSION"
