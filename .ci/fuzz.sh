#!/usr/bin/env bash
# Runs every Go fuzz target for FUZZTIME (default 30s) each, one after the
# other (Go fuzzes one target per run), and writes a table of executions and
# results to .tmp/fuzz.md. A crash stops the run; Go writes the failing input
# to <pkg>/testdata/fuzz/<Target>/, where it becomes a regression seed that
# `go test` runs from then on (commit it with the fix).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
targets=(
  internal/hardware:FuzzParseConfigJSON
  internal/hardware:FuzzFitSizing
  internal/serveapp:FuzzParse
  internal/serveapp:FuzzRender
  internal/ec2cluster:FuzzRenderUserData
  internal/batchjob:FuzzEntrypoint
)
mkdir -p .tmp
out=.tmp/fuzz.md
printf '| Target | Package | Time | Executions | New interesting inputs | Result |\n|---|---|---|---|---|---|\n' >"$out"
for t in "${targets[@]}"; do
  pkg=${t%%:*} fn=${t##*:}
  log=.tmp/fuzz-$fn.log
  echo "== $fn ($pkg, $fuzztime)"
  rc=0
  go test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" "./$pkg" >"$log" 2>&1 || rc=$?
  last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
  interesting=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
  result=pass
  if [ "$rc" != 0 ]; then result="FAIL (see $log)"; fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$fn" "$pkg" "$fuzztime" "${execs:-?}" "${interesting:-?}" "$result" >>"$out"
  tail -n 3 "$log"
  if [ "$rc" != 0 ]; then cat "$log" >&2; cat "$out"; exit "$rc"; fi
done
cat "$out"
