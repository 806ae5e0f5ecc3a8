#!/usr/bin/env bash
# Writes the provider's schema, as `tofu providers schema -json` prints it,
# to $1 for `tfplugindocs generate --providers-schema`. bin/terraform (1.8.5)
# predates ephemeral resources and write-only attributes: its schema JSON
# has neither, so the docs are generated from OpenTofu's. Needs make tofu
# and make install (the provider in the local mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'terraform {\n  required_providers {\n    rayvllm = { source = "rayvllm/rayvllm" }\n  }\n}\n' >"$dir/main.tf"
bin/tofu -chdir="$dir" init -input=false -no-color >"$dir/init.log" 2>&1 || { cat "$dir/init.log" >&2; exit 1; }
bin/tofu -chdir="$dir" providers schema -json >"$dir/schema.json"
# tfplugindocs looks the provider up by its short name.
python3 - "$dir/schema.json" "$out" <<'PY'
import json, sys
src, out = sys.argv[1:]
d = json.load(open(src))
d["provider_schemas"] = {"rayvllm": d["provider_schemas"]["registry.opentofu.org/rayvllm/rayvllm"]}
json.dump(d, open(out, "w"))
PY
