#!/usr/bin/env bash
# head.sh: boots the Ray head node of a rayvllm cluster.
#
#   head.sh          set the node up (AWS: venv, tokens from SSM, systemd
#                    service) and start Ray
#   head.sh run      start Ray in the foreground (what the service runs)
#
# RAYVLLM_MODE=local skips the AWS-only steps and runs Ray in the foreground
# with the venv in RAYVLLM_VENV; .ci/services.sh starts the test cluster this
# way. See common.sh for the variables.
set -euo pipefail

# rayvllm:source-common (in user data, common.sh is inlined above instead)
if [ "$(type -t rayvllm_defaults || true)" != function ]; then
  # shellcheck source-path=SCRIPTDIR source=common.sh
  . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fi

run_head() {
  ray_env
  local -a args=(start --head --block
    --node-ip-address="${RAYVLLM_NODE_IP:-127.0.0.1}"
    --port="$RAYVLLM_GCS_PORT"
    --dashboard-host="${RAYVLLM_DASHBOARD_HOST:-0.0.0.0}"
    --dashboard-port="$RAYVLLM_DASHBOARD_PORT"
    --ray-client-server-port="$RAYVLLM_CLIENT_PORT"
    --disable-usage-stats)
  # The head schedules no GPU work; it runs the GCS, dashboard and drivers.
  # On EC2 it schedules no CPU work either (Ray's advice for clusters: tasks
  # on the head compete with the GCS), so batch stages run on the workers.
  args+=(--num-gpus=0)
  if [ -n "${RAYVLLM_NUM_CPUS:-}" ]; then
    args+=(--num-cpus="$RAYVLLM_NUM_CPUS")
  elif [ "$RAYVLLM_MODE" = aws ]; then
    args+=(--num-cpus=0)
  fi
  if [ -n "${RAYVLLM_TEMP_DIR:-}" ]; then args+=(--temp-dir="$RAYVLLM_TEMP_DIR"); fi
  if [ -r "$RAYVLLM_HOME/autoscaler.json" ]; then
    # Ray's own autoscaler (v2) runs next to the GCS with the config the
    # provider rendered; it launches the autoscaled groups' workers.
    export RAY_enable_autoscaler_v2=1 PYTHONPATH=$RAYVLLM_HOME/python${PYTHONPATH:+:$PYTHONPATH}
    autoscaler_env "rayvllm.head"
    args+=(--autoscaling-config="$RAYVLLM_HOME/autoscaler.json")
  fi
  local -a extra
  read -r -a extra <<<"$RAYVLLM_EXTRA_RAY_ARGS"
  log "starting Ray $RAYVLLM_RAY_VERSION head on ${RAYVLLM_NODE_IP:-127.0.0.1}:$RAYVLLM_GCS_PORT, dashboard port $RAYVLLM_DASHBOARD_PORT"
  exec "$RAYVLLM_VENV/bin/ray" "${args[@]}" "${extra[@]}"
}

# Writes the autoscaler config from the user data with this node's private
# IP in the workers' user data, and its node provider module.
write_autoscaler_config() {
  [ -n "$RAYVLLM_AUTOSCALER_CONFIG" ] || return 0
  mkdir -p "$RAYVLLM_HOME/python"
  rayvllm_autoscaler_module >"$RAYVLLM_HOME/python/rayvllm_autoscaler.py"
  printf '%s\n' "$RAYVLLM_AUTOSCALER_CONFIG" |
    sed "s/__RAYVLLM_HEAD_IP__/$RAYVLLM_NODE_IP/g" >"$RAYVLLM_HOME/autoscaler.json"
  chown ray: "$RAYVLLM_HOME/autoscaler.json"
  log "Ray's autoscaler config: $RAYVLLM_HOME/autoscaler.json"
}

main() {
  rayvllm_defaults
  case "${1:-setup}" in
    run) run_head ;;
    setup)
      if [ "$RAYVLLM_MODE" = local ]; then
        install_python
        run_head
      fi
      log_to_file
      mark_boot_failure
      log "bootstrapping Ray head of cluster ${RAYVLLM_CLUSTER:-}"
      prepare_aws
      write_autoscaler_config
      install_service rayvllm-head
      ;;
    *) die "usage: $0 [setup|run]" ;;
  esac
}

main "$@"
