#!/usr/bin/env bash
# Starts (or stops) the real test services on loopback: a Ray head with token
# auth and moto's EC2 server. Their addresses and the token are written to
# .tmp/services.env for the Makefile and the tests. Own ports and temp dir, so
# a Ray the developer already runs is left alone; stop kills only our process
# groups, never `ray stop` (which would stop every Ray on the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=$root/.tmp/services
envfile=$root/.tmp/services.env
mkdir -p "$state"

free_port() { "$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop() {
  for f in "$state"/*.pgid; do
    [ -e "$f" ] || continue
    pgid=$(cat "$f")
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    rm -f "$f"
  done
  # Ray daemons outlive their parent's process group; stop them by our temp dir only.
  pkill -TERM -f "$state/ray" 2>/dev/null || true
  sleep 1
  pkill -KILL -f "$state/ray" 2>/dev/null || true
  rm -f "$envfile"
}

wait_http() { # url, name, seconds
  for _ in $(seq 1 "$3"); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "$2 did not come up at $1; its log:" >&2
  tail -n 50 "$state/$2.log" >&2 || true
  return 1
}

start() {
  stop
  token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  gcs_port=$(free_port); dash_port=$(free_port); moto_port=$(free_port)
  client_port=$(free_port); agent_port=$(free_port); metrics_port=$(free_port)
  serve_port=$(free_port)
  mkdir -p "$state/ray"
  ray_version=$(sed -n 's/^ray\[default,serve\]==//p' .ci/requirements.txt)
  # Dogfooding: the Ray head is started by the same head.sh that bootstraps
  # rayvllm_inference_cluster's head on EC2, in its local mode (no IMDS, SSM,
  # systemd or pip install; the venv is ours). The session dir path must stay
  # short: Ray puts unix sockets in it. The venv comes first on PATH so that a
  # job's `python` is the cluster's Python (with Ray), as on a real cluster.
  ( cd "$state" && PATH="$root/.venv/bin:$PATH" RAY_AUTH_TOKEN=$token RAYVLLM_MODE=local RAYVLLM_HOME="$state" \
      RAYVLLM_VENV="$root/.venv" RAYVLLM_RAY_VERSION="$ray_version" RAYVLLM_CLUSTER=ci \
      RAYVLLM_NODE_IP=127.0.0.1 RAYVLLM_DASHBOARD_HOST=127.0.0.1 RAYVLLM_GCS_PORT="$gcs_port" \
      RAYVLLM_DASHBOARD_PORT="$dash_port" RAYVLLM_CLIENT_PORT="$client_port" \
      RAYVLLM_NUM_CPUS="${RAYVLLM_TEST_RAY_CPUS:-4}" RAYVLLM_TEMP_DIR="$state/ray" \
      RAYVLLM_EXTRA_RAY_ARGS="--dashboard-agent-listen-port=$agent_port --metrics-export-port=$metrics_port --min-worker-port=0 --max-worker-port=0" \
      setsid bash -c 'echo $$ > ray.pgid; exec "$0" "$@"' "$root/internal/ec2cluster/scripts/head.sh" \
        >"$state/ray.log" 2>&1 & )
  ( cd "$state" && setsid bash -c 'echo $$ > moto.pgid; exec "$0" "$@"' \
      "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 & )
  wait_http "http://127.0.0.1:$moto_port/moto-api/" moto 60
  # /api/version answers without a token only once the dashboard is up.
  for _ in $(seq 1 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$dash_port/api/version" || true)
    [ "$code" = 200 ] && break
    sleep 1
  done
  if [ "$code" != 200 ]; then echo "Ray dashboard did not come up on port $dash_port; log:" >&2; tail -n 50 "$state/ray.log" >&2; return 1; fi
  cat > "$envfile" <<ENV
export RAY_ADDRESS=http://127.0.0.1:$dash_port
export RAY_AUTH_TOKEN=$token
export RAYVLLM_TEST_GCS_ADDRESS=127.0.0.1:$gcs_port
export RAYVLLM_TEST_SERVE_PORT=$serve_port
export RAYVLLM_TEST_RAY_TEMP_DIR=$state/ray
export AWS_ENDPOINT_URL_EC2=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_SSM=http://127.0.0.1:$moto_port
export RAYVLLM_TEST_MOTO_URL=http://127.0.0.1:$moto_port
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
ENV
  echo "services up: Ray dashboard http://127.0.0.1:$dash_port (token auth), moto http://127.0.0.1:$moto_port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
