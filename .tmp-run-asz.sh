#!/bin/bash
set -u
cd /work/wt-18
make install >/dev/null 2>&1 || { echo "make install failed"; exit 1; }
.ci/services.sh start >/dev/null 2>&1 || { echo "services failed"; exit 1; }
source .tmp/services.env
export TF_ACC_TERRAFORM_PATH=$PWD/bin/terraform TF_CLI_CONFIG_FILE=$PWD/.tmp/terraformrc TF_ACC_PROVIDER_NAMESPACE=rayvllm CHECKPOINT_DISABLE=1 TF_ACC=1
timeout 1500 go test -count=1 -timeout 25m -run "$1" -v ./internal/provider/ 2>&1
rc=$?
.ci/services.sh stop >/dev/null 2>&1
echo "RC=$rc"
