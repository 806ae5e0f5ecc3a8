#!/usr/bin/env bash
# worker.sh: boots a GPU worker of a rayvllm cluster and joins it to the head
# at RAYVLLM_HEAD_IP. Same modes and variables as head.sh (see common.sh).
set -euo pipefail

# rayvllm:source-common (in user data, common.sh is inlined above instead)
if [ "$(type -t rayvllm_defaults || true)" != function ]; then
  # shellcheck source-path=SCRIPTDIR source=common.sh
  . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fi

# Waits until the head's GCS port accepts connections.
wait_for_head() {
  local i
  for i in $(seq 1 "${RAYVLLM_HEAD_WAIT_SECONDS:-1800}"); do
    if (exec 3<>"/dev/tcp/$RAYVLLM_HEAD_IP/$RAYVLLM_GCS_PORT") 2>/dev/null; then
      return 0
    fi
    if [ $((i % 60)) = 0 ]; then log "still waiting for the head at $RAYVLLM_HEAD_IP:$RAYVLLM_GCS_PORT"; fi
    sleep 1
  done
  die "head $RAYVLLM_HEAD_IP:$RAYVLLM_GCS_PORT did not answer"
}

run_worker() {
  : "${RAYVLLM_HEAD_IP:?RAYVLLM_HEAD_IP must be set to the private IP of the head}"
  ray_env
  autoscaler_env "$RAYVLLM_NODE_TYPE"
  wait_for_head
  local -a args=(start --block
    --address="$RAYVLLM_HEAD_IP:$RAYVLLM_GCS_PORT"
    --node-ip-address="${RAYVLLM_NODE_IP:-127.0.0.1}"
    --disable-usage-stats)
  local line
  while IFS= read -r line; do args+=("$line"); done < <(gpu_args; accelerator_args)
  if [ -n "${RAYVLLM_NUM_CPUS:-}" ]; then args+=(--num-cpus="$RAYVLLM_NUM_CPUS"); fi
  if [ -n "${RAYVLLM_TEMP_DIR:-}" ]; then args+=(--temp-dir="$RAYVLLM_TEMP_DIR"); fi
  local -a extra
  read -r -a extra <<<"$RAYVLLM_EXTRA_RAY_ARGS"
  if [ "$RAYVLLM_MODE" = aws ] && ! command -v nvidia-smi >/dev/null; then
    log "WARNING: nvidia-smi not found; this AMI has no NVIDIA driver and Ray will see no GPUs"
  fi
  log "joining Ray head $RAYVLLM_HEAD_IP:$RAYVLLM_GCS_PORT as group ${RAYVLLM_GROUP:-?} (${RAYVLLM_ACCELERATOR_TYPE:-no accelerator})"
  exec "$RAYVLLM_VENV/bin/ray" "${args[@]}" "${extra[@]}"
}

main() {
  rayvllm_defaults
  case "${1:-setup}" in
    run) run_worker ;;
    setup)
      if [ "$RAYVLLM_MODE" = local ]; then
        install_python
        run_worker
      fi
      log_to_file
      mark_boot_failure
      log "bootstrapping Ray worker of cluster ${RAYVLLM_CLUSTER:-}, group ${RAYVLLM_GROUP:-}"
      prepare_aws
      install_service rayvllm-worker
      ;;
    *) die "usage: $0 [setup|run]" ;;
  esac
}

main "$@"
