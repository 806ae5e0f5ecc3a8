#!/usr/bin/env bash
# Creates the test venv (.venv) from .ci/requirements.lock unless it is up to
# date: the Ray head, moto, pytest, shellcheck and vLLM for CPU (the e2e tests
# run the real engine on the test Ray head, whose workers use this Python).
#
# The venv is ~6 GB and takes minutes to install, so it is built once per lock
# hash under $RAYVLLM_VENV_CACHE (default ~/.cache/rayvllm) and .venv is a
# symlink to it. It is created at its final path because venvs are not
# relocatable (console scripts have absolute shebangs).
set -euo pipefail
cd "$(dirname "$0")/.."
lock=.ci/requirements.lock
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.requirements.sha256 2>/dev/null)" = "$want" ]; then
  exit 0
fi
py=${RAYVLLM_PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "venv: $lock is locked for Python 3.11, but $py is $("$py" --version 2>&1); set RAYVLLM_PYTHON to a python3.11" >&2
  exit 1
fi
cache=${RAYVLLM_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rayvllm}
dir=$cache/venv-${want:0:16}
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9 # another checkout may be building the same key
if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$want" ]; then
  echo "venv: reusing $dir"
else
  start=$(date +%s)
  echo "venv: installing $lock into $dir (a few GB of wheels, minutes)"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip==26.3
  # --no-deps: see the lock's header.
  "$dir/bin/pip" install -q --no-deps -r "$lock"
  "$dir/bin/python" -c 'import ray, vllm, moto, pytest' 2>/dev/null
  echo "$want" > "$dir/.requirements.sha256"
  echo "venv: installed in $(( $(date +%s) - start ))s"
fi
touch "$dir"
# Keys unused for a week are left over from older locks.
find "$cache" -maxdepth 1 -name 'venv-*' ! -name "venv-${want:0:16}*" -mtime +7 -exec rm -rf {} + 2>/dev/null || true
rm -rf .venv
ln -s "$dir" .venv
