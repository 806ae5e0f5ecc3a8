#!/bin/bash
set -u
cd /work/wt-18
echo "start $(date +%T)"
make install >/tmp/asz18-install.log 2>&1 || { echo "make install failed"; tail -20 /tmp/asz18-install.log; exit 1; }
.ci/services.sh start >/tmp/asz18-services.log 2>&1 || { echo "services failed"; tail -20 /tmp/asz18-services.log; exit 1; }
source .tmp/services.env
export TF_ACC_TERRAFORM_PATH=$PWD/bin/terraform TF_CLI_CONFIG_FILE=$PWD/.tmp/terraformrc TF_ACC_PROVIDER_NAMESPACE=rayvllm CHECKPOINT_DISABLE=1 TF_ACC=1
echo "== quick $(date +%T)"
timeout 600 go test -count=1 -timeout 10m -run 'TestAccInferenceCluster_(planErrors|examplePlans|planWithoutAWS|basic)$' ./internal/provider/ 2>&1 | tail -30
(cd modules/batch-inference && rm -rf .terraform .terraform.lock.hcl && timeout 300 ../../bin/terraform init -backend=false >/dev/null 2>&1 && timeout 300 ../../bin/terraform test -filter=tests/plan.tftest.hcl 2>&1 | tail -15; rm -rf .terraform .terraform.lock.hcl)
for t in autoscaleFromZero spotFallback autoscalerNotDrift; do
  echo "== $t $(date +%T)"
  timeout 1500 go test -count=1 -timeout 24m -run "TestAccInferenceCluster_$t\$" -v ./internal/provider/ > /tmp/asz18-$t.log 2>&1
  echo "rc=$? $(date +%T)"; grep -E "^(---|===|ok|FAIL|PASS)|cluster_autoscale_test|Error|error" /tmp/asz18-$t.log | tail -30
  ip netns list | grep -c . ; 
done
.ci/services.sh stop >/dev/null 2>&1
echo "RC done $(date +%T)"
echo "== round 2 $(date +%T)"
.ci/services.sh start >/tmp/asz18-services.log 2>&1 || { echo "services failed"; exit 1; }
source .tmp/services.env
for t in autoscaleFromZero spotFallback; do
  echo "== $t $(date +%T)"
  timeout 1500 go test -count=1 -timeout 24m -run "TestAccInferenceCluster_$t\$" -v ./internal/provider/ > /tmp/asz18-$t-2.log 2>&1
  echo "rc=$? $(date +%T)"; grep -E "^(---|===|ok|FAIL|PASS)|cluster_autoscale_test|Error|error" /tmp/asz18-$t-2.log | tail -30
  ip netns list | grep -c . ;
done
.ci/services.sh stop >/dev/null 2>&1
echo "RC2 done $(date +%T)"
echo "== round 3 $(date +%T)"
.ci/services.sh start >/tmp/asz18-services.log 2>&1 || { echo "services failed"; exit 1; }
source .tmp/services.env
for t in autoscalerNotDrift; do
  echo "== $t $(date +%T)"
  timeout 1500 go test -count=1 -timeout 24m -run "TestAccInferenceCluster_$t\$" -v ./internal/provider/ > /tmp/asz18-$t-3.log 2>&1
  echo "rc=$? $(date +%T)"; grep -E "^(---|===|ok|FAIL|PASS)|cluster_autoscale_test|Error|error" /tmp/asz18-$t-3.log | tail -30
  ip netns list | grep -c . ;
done
.ci/services.sh stop >/dev/null 2>&1
echo "RC3 done $(date +%T)"
