#!/usr/bin/env bash
# common.sh: functions shared by head.sh and worker.sh. The provider inlines
# this file into the EC2 user data; run from a checkout, the node scripts
# source it from their own directory.
#
# Configuration comes from RAYVLLM_* variables (the provider renders them at
# the top of the user data). RAYVLLM_MODE=local skips every AWS-only step
# (IMDS, SSM, system user, systemd) so the same script can start a Ray node on
# a developer machine or in CI.

rayvllm_defaults() {
  : "${RAYVLLM_MODE:=aws}"
  : "${RAYVLLM_HOME:=/opt/rayvllm}"
  : "${RAYVLLM_LOG_DIR:=/var/log/rayvllm}"
  : "${RAYVLLM_PYTHON:=python3}"
  : "${RAYVLLM_RAY_VERSION:?RAYVLLM_RAY_VERSION must be set (pinned Ray version)}"
  : "${RAYVLLM_VLLM_VERSION:=}"
  : "${RAYVLLM_PYTHON_PACKAGES:=}"
  : "${RAYVLLM_RAY_TOKEN_PARAMETER:=}"
  : "${RAYVLLM_HF_TOKEN_PARAMETER:=}"
  : "${RAYVLLM_REGION:=}"
  : "${RAYVLLM_NODE_IP:=}"
  : "${RAYVLLM_GCS_PORT:=6379}"
  : "${RAYVLLM_DASHBOARD_PORT:=8265}"
  : "${RAYVLLM_CLIENT_PORT:=10001}"
  : "${RAYVLLM_ACCELERATOR_TYPE:=}"
  : "${RAYVLLM_GROUP:=}"
  : "${RAYVLLM_NODE_TYPE:=}"
  : "${RAYVLLM_INSTANCE_ID:=}"
  : "${RAYVLLM_AUTOSCALER_CONFIG:=}"
  : "${RAYVLLM_EXTRA_RAY_ARGS:=}"
  : "${RAYVLLM_SYSTEMD_DIR:=/etc/systemd/system}"
  if [ "$RAYVLLM_MODE" != aws ] && [ "$RAYVLLM_MODE" != local ]; then
    echo "RAYVLLM_MODE must be aws or local, got '$RAYVLLM_MODE'" >&2
    exit 2
  fi
  if [ "$RAYVLLM_MODE" = local ]; then
    : "${RAYVLLM_VENV:=$RAYVLLM_HOME/venv}"
  else
    RAYVLLM_VENV=$RAYVLLM_HOME/venv
  fi
  RAYVLLM_RAY_TOKEN_FILE=$RAYVLLM_HOME/ray_token
  RAYVLLM_HF_TOKEN_FILE=$RAYVLLM_HOME/hf_token
  export RAY_AUTH_MODE=token RAY_USAGE_STATS_ENABLED=0
}

log() { printf '%s rayvllm: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

die() {
  log "ERROR: $*" >&2
  exit 1
}

# Sends everything the bootstrap prints to the known log file as well.
log_to_file() {
  mkdir -p "$RAYVLLM_LOG_DIR"
  exec > >(tee -a "$RAYVLLM_LOG_DIR/bootstrap.log") 2>&1
}

# Marks a failed bootstrap on the console (EC2 GetConsoleOutput), where the
# provider looks for it while it waits for the node to join Ray.
mark_boot_failure() { trap boot_exit EXIT; }
boot_exit() {
  local rc=$?
  [ "$rc" = 0 ] || log "BOOTSTRAP FAILED (exit $rc); see above and $RAYVLLM_LOG_DIR/bootstrap.log" >&2
}

imds() { # path: reads instance metadata with an IMDSv2 session token
  local token
  token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

install_system_packages() {
  if "$RAYVLLM_PYTHON" -m venv --help >/dev/null 2>&1 && command -v curl >/dev/null; then
    return 0
  fi
  log "installing python3-venv and curl"
  if command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip curl
  elif command -v dnf >/dev/null; then
    dnf install -y -q python3 python3-pip curl
  else
    die "no apt-get or dnf to install python3-venv with"
  fi
}

installed_ray_version() {
  "$RAYVLLM_VENV/bin/python" -c 'import ray; print(ray.__version__)' 2>/dev/null || true
}

# Creates the venv with the pinned Ray (and vLLM) unless it already has them.
install_python() {
  if [ "$(installed_ray_version)" = "$RAYVLLM_RAY_VERSION" ]; then
    log "using $RAYVLLM_VENV (ray $RAYVLLM_RAY_VERSION already installed)"
    return 0
  fi
  if [ "$RAYVLLM_MODE" = local ] && [ -x "$RAYVLLM_VENV/bin/python" ]; then
    die "$RAYVLLM_VENV has ray '$(installed_ray_version)', want $RAYVLLM_RAY_VERSION"
  fi
  log "creating $RAYVLLM_VENV with ray $RAYVLLM_RAY_VERSION vllm ${RAYVLLM_VLLM_VERSION:-none}"
  "$RAYVLLM_PYTHON" -m venv "$RAYVLLM_VENV"
  local -a pkgs=("ray[default,serve]==$RAYVLLM_RAY_VERSION")
  if [ -n "$RAYVLLM_VLLM_VERSION" ]; then pkgs+=("vllm==$RAYVLLM_VLLM_VERSION"); fi
  if [ "$RAYVLLM_MODE" = aws ]; then pkgs+=(boto3); fi
  local -a extra
  read -r -a extra <<<"$RAYVLLM_PYTHON_PACKAGES"
  "$RAYVLLM_VENV/bin/pip" install -q --upgrade pip
  "$RAYVLLM_VENV/bin/pip" install -q "${pkgs[@]}" "${extra[@]}"
  [ "$(installed_ray_version)" = "$RAYVLLM_RAY_VERSION" ] || die "ray $RAYVLLM_RAY_VERSION did not install"
}

# Reads an SSM SecureString with the instance role and writes it to a file
# only root and the ray user can read. The value is never printed.
fetch_secret() { # parameter, file
  local tmp
  tmp=$(mktemp "$RAYVLLM_HOME/.secret.XXXXXX")
  if ! "$RAYVLLM_VENV/bin/python" - "$1" "$RAYVLLM_REGION" >"$tmp" <<'PY'; then
import sys
import boto3
ssm = boto3.client("ssm", region_name=sys.argv[2])
sys.stdout.write(ssm.get_parameter(Name=sys.argv[1], WithDecryption=True)["Parameter"]["Value"])
PY
    rm -f "$tmp"
    die "could not read SSM parameter $1 (does the instance profile allow ssm:GetParameter and kms:Decrypt?)"
  fi
  chmod 600 "$tmp"
  chown ray: "$tmp"
  mv "$tmp" "$2"
}

# AWS-only preparation: system user, node IP and region from IMDSv2, tokens
# from SSM.
prepare_aws() {
  install_system_packages
  id ray >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin ray
  mkdir -p "$RAYVLLM_HOME"
  chmod 755 "$RAYVLLM_HOME"
  [ -n "$RAYVLLM_REGION" ] || RAYVLLM_REGION=$(imds meta-data/placement/region)
  [ -n "$RAYVLLM_NODE_IP" ] || RAYVLLM_NODE_IP=$(imds meta-data/local-ipv4)
  [ -n "$RAYVLLM_INSTANCE_ID" ] || RAYVLLM_INSTANCE_ID=$(imds meta-data/instance-id)
  install_python
  [ -n "$RAYVLLM_RAY_TOKEN_PARAMETER" ] || die "RAYVLLM_RAY_TOKEN_PARAMETER is not set"
  fetch_secret "$RAYVLLM_RAY_TOKEN_PARAMETER" "$RAYVLLM_RAY_TOKEN_FILE"
  if [ -n "$RAYVLLM_HF_TOKEN_PARAMETER" ]; then
    fetch_secret "$RAYVLLM_HF_TOKEN_PARAMETER" "$RAYVLLM_HF_TOKEN_FILE"
  fi
  chown -R ray: "$RAYVLLM_LOG_DIR"
}

# Installs this very script as a systemd service that runs "$0 run", so Ray
# comes back after a reboot. The script carries its configuration inline.
# PATH starts with the venv, so that a Ray job's `python` is the cluster's
# Python (systemd's default PATH has no venv).
install_service() { # unit name
  local nl=$'\n' endpoints
  endpoints=$(endpoint_environment)
  install -m 755 "$0" "$RAYVLLM_HOME/node.sh"
  cat >"$RAYVLLM_SYSTEMD_DIR/$1.service" <<UNIT
[Unit]
Description=Ray node for rayvllm cluster ${RAYVLLM_CLUSTER:-}
Wants=network-online.target
After=network-online.target

[Service]
User=ray
Environment=RAYVLLM_REGION=$RAYVLLM_REGION RAYVLLM_NODE_IP=$RAYVLLM_NODE_IP RAYVLLM_INSTANCE_ID=$RAYVLLM_INSTANCE_ID${endpoints:+$nl$endpoints}
Environment=PATH=$RAYVLLM_VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=$RAYVLLM_HOME/node.sh run
Restart=on-failure
RestartSec=10
StandardOutput=append:$RAYVLLM_LOG_DIR/ray.log
StandardError=append:$RAYVLLM_LOG_DIR/ray.log
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now "$1.service"
  log "started $1.service; Ray logs go to $RAYVLLM_LOG_DIR/ray.log"
}

# The AWS SDKs' endpoint overrides (AWS_ENDPOINT_URL_EC2, ...) that the
# boot saw, for the unit: Ray's autoscaler on the head calls EC2 with boto3,
# which honours them. Unset on EC2 (the regional endpoints); set where the
# EC2 API is elsewhere (a VPC endpoint, or the test harness).
endpoint_environment() {
  local v
  for v in AWS_ENDPOINT_URL AWS_ENDPOINT_URL_EC2 AWS_ENDPOINT_URL_SSM; do
    if [ -n "${!v:-}" ]; then printf 'Environment=%s=%s\n' "$v" "${!v}"; fi
  done
}

# Ray's autoscaler v2 pairs each Ray node with its cloud instance through
# these two variables (ray/_private/services.py reads RAY_CLOUD_INSTANCE_ID;
# the v2 reconciler the node type), as its own Ray installer sets them
# (ray/autoscaler/v2/instance_manager/ray_installer.py).
autoscaler_env() { # node type
  if [ "$RAYVLLM_MODE" = aws ] && [ -n "$1" ] && [ -n "$RAYVLLM_INSTANCE_ID" ]; then
    export RAY_CLOUD_INSTANCE_ID=$RAYVLLM_INSTANCE_ID RAY_NODE_TYPE_NAME=$1
  fi
}

# Environment for the Ray processes: the token comes from a file, never argv.
ray_env() {
  if [ "$RAYVLLM_MODE" = aws ]; then
    export RAY_AUTH_TOKEN_PATH=$RAYVLLM_RAY_TOKEN_FILE
  elif [ -z "${RAY_AUTH_TOKEN:-}" ] && [ -z "${RAY_AUTH_TOKEN_PATH:-}" ]; then
    die "local mode needs RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH (token auth is always on)"
  fi
  if [ -r "$RAYVLLM_HF_TOKEN_FILE" ]; then
    HF_TOKEN=$(cat "$RAYVLLM_HF_TOKEN_FILE")
    export HF_TOKEN
  fi
}

# Declares the GPUs the NVIDIA driver lists (the count Ray's own detection
# would find), so that the node's GPU resource shows in the unit's log; no
# flag without nvidia-smi.
gpu_args() {
  command -v nvidia-smi >/dev/null || return 0
  local n
  n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  printf '%s\n' "--num-gpus=${n:-0}"
}

# Ray resource and label flags that make accelerator_type scheduling work.
accelerator_args() {
  if [ -n "$RAYVLLM_ACCELERATOR_TYPE" ]; then
    printf '%s\n' "--resources={\"accelerator_type:$RAYVLLM_ACCELERATOR_TYPE\": 1}"
    printf '%s\n' "--labels=rayvllm.io/accelerator-type=$RAYVLLM_ACCELERATOR_TYPE,rayvllm.io/group=$RAYVLLM_GROUP"
  fi
}
