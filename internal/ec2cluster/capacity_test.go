package ec2cluster

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// InsufficientInstanceCapacity in the first subnet's AZ moves the launch to
// the next subnet, as a new request; an error that is not about the AZ does
// not.
func TestRunMovesToNextAZOnCapacity(t *testing.T) {
	f, c := newFake(t)
	f.handlers["RunInstances"] = func(form url.Values) (int, string) {
		if form.Get("SubnetId") == "subnet-aaaa" {
			return ec2Error(500, "InsufficientInstanceCapacity", "We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-east-1a).")
		}
		return 200, runXML(fakeInstance{"i-1", "pending", "10.0.1.1", ""})
	}
	spec := testSpec()
	spec.SubnetID, spec.SubnetIDs = "subnet-aaaa", []string{"subnet-bbbb", "subnet-cccc"}
	l := launch{role: RoleWorker, group: "g", node: spec.Groups[0].NodeSpec, count: 1}
	insts, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", l)
	if err != nil || len(insts) != 1 {
		t.Fatalf("insts %v, err %v", insts, err)
	}
	var subnets []string
	for _, r := range f.calls("RunInstances") {
		subnets = append(subnets, r.Get("SubnetId"))
	}
	calls := f.calls("RunInstances")
	if subnets[0] != "subnet-aaaa" || subnets[len(subnets)-1] != "subnet-bbbb" || calls[0].Get("ClientToken") == calls[len(calls)-1].Get("ClientToken") {
		t.Fatalf("launched in subnets %v, want subnet-aaaa then subnet-bbbb with a new ClientToken", subnets)
	}

	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return ec2Error(400, "InvalidParameterValue", "Invalid value 'x' for instanceType")
	}
	before := len(f.calls("RunInstances"))
	if _, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", l); err == nil || len(f.calls("RunInstances")) != before+1 {
		t.Fatalf("a non-capacity error moved to another subnet: %v", err)
	}
	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return ec2Error(500, "InsufficientInstanceCapacity", "no capacity")
	}
	_, err = c.run(t.Context(), spec, "sg-1", "/dev/sda1", l)
	if err == nil || !strings.Contains(err.Error(), "subnet-aaaa") || !strings.Contains(err.Error(), "subnet-cccc") {
		t.Fatalf("no capacity anywhere: %v, want an error naming every subnet tried", err)
	}
}

// launchesOf lists the RunInstances requests as "type/market subnet", one
// per ClientToken (the SDK retries a 500 with the same token).
func launchesOf(f *fakeEC2) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range f.calls("RunInstances") {
		if seen[r.Get("ClientToken")] {
			continue
		}
		seen[r.Get("ClientToken")] = true
		m := r.Get("InstanceMarketOptions.MarketType")
		if r.Get("CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId") != "" {
			m += "reserved"
		}
		subnet := r.Get("SubnetId") + r.Get("NetworkInterface.1.SubnetId")
		out = append(out, r.Get("InstanceType")+"/"+m+" "+subnet)
	}
	return out
}

// The first instance type refused for capacity in every subnet moves the
// launch to the next type; a full reservation moves to on demand only when
// the group allows it.
func TestRunFallsBackAcrossTypesAndReservation(t *testing.T) {
	f, c := newFake(t)
	f.handlers["RunInstances"] = func(form url.Values) (int, string) {
		switch {
		case form.Get("CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId") != "":
			return ec2Error(400, "ReservationCapacityExceeded", "The requested reservation does not have sufficient compatible and available capacity for this request.")
		case form.Get("InstanceType") == "g6e.xlarge":
			return ec2Error(500, "InsufficientInstanceCapacity", "We currently do not have sufficient g6e.xlarge capacity.")
		}
		return 200, runXML(fakeInstance{"i-1", "pending", "10.0.1.1", ""})
	}
	spec := testSpec()
	spec.SubnetID, spec.SubnetIDs = "subnet-aaaa", []string{"subnet-bbbb"}
	node := spec.Groups[0].NodeSpec
	node.InstanceType, node.FallbackInstanceTypes = "g6e.xlarge", []string{"g6e.2xlarge"}
	if _, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: node, count: 1}); err != nil {
		t.Fatal(err)
	}
	want := []string{"g6e.xlarge/ subnet-aaaa", "g6e.xlarge/ subnet-bbbb", "g6e.2xlarge/ subnet-aaaa"}
	if got := launchesOf(f); !reflect.DeepEqual(got, want) {
		t.Fatalf("launches %q, want %q", got, want)
	}

	f.requests = nil
	node.Reservation = &Reservation{ID: "cr-0123456789abcdef0", FallbackToOnDemand: true}
	node.FallbackInstanceTypes = nil
	node.InstanceType = "g5.xlarge"
	spec.SubnetIDs = nil
	if _, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: node, count: 1}); err != nil {
		t.Fatal(err)
	}
	want = []string{"g5.xlarge/reserved subnet-aaaa", "g5.xlarge/ subnet-aaaa"}
	if got := launchesOf(f); !reflect.DeepEqual(got, want) {
		t.Fatalf("launches %q, want the reservation, then on demand: %q", got, want)
	}

	f.requests = nil
	node.Reservation.FallbackToOnDemand = false
	_, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: node, count: 1})
	if err == nil || !strings.Contains(err.Error(), "ReservationCapacityExceeded") || len(launchesOf(f)) != 1 {
		t.Fatalf("a full reservation without fallback: %v after %q, want the error after one launch", err, launchesOf(f))
	}
}

// A Capacity Block launches with its market type and reservation ID; a
// placement group and EFA put the subnet and security group on an EFA
// network interface.
func TestRunInstancesCapacityShape(t *testing.T) {
	f, c := newFake(t)
	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return 200, runXML(fakeInstance{"i-1", "pending", "10.0.1.1", ""})
	}
	spec := testSpec()
	node := spec.Groups[0].NodeSpec
	node.InstanceType, node.PlacementGroup, node.EFA = "p5.48xlarge", "pg-train", true
	node.Reservation = &Reservation{ID: "cr-0aaaaaaaaaaaaaaaa", CapacityBlock: true}
	if _, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: node, count: 2}); err != nil {
		t.Fatal(err)
	}
	r := f.calls("RunInstances")[0]
	want := map[string]string{
		"InstanceMarketOptions.MarketType":                                                 "capacity-block",
		"CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId": "cr-0aaaaaaaaaaaaaaaa",
		"Placement.GroupName":                  "pg-train",
		"NetworkInterface.1.InterfaceType":     "efa",
		"NetworkInterface.1.DeviceIndex":       "0",
		"NetworkInterface.1.SubnetId":          "subnet-12345678",
		"NetworkInterface.1.SecurityGroupId.1": "sg-1",
		"SubnetId":                             "",
		"SecurityGroupId.1":                    "",
	}
	for k, v := range want {
		if r.Get(k) != v {
			t.Errorf("RunInstances %s = %q, want %q", k, r.Get(k), v)
		}
	}

	f.requests = nil
	node = spec.Groups[0].NodeSpec
	node.Reservation = &Reservation{ResourceGroupARN: "arn:aws:resource-groups:us-east-1:123456789012:group/gpus"}
	if _, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: node, count: 1}); err != nil {
		t.Fatal(err)
	}
	r = f.calls("RunInstances")[0]
	if r.Get("CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationResourceGroupArn") != node.Reservation.ResourceGroupARN ||
		r.Get("InstanceMarketOptions.MarketType") != "" || r.Get("SubnetId") != "subnet-12345678" {
		t.Errorf("a reservation group launch sent %v", r)
	}
}

// capacitySpec is autoscaledSpec with the spot group given a fallback type
// and the on-demand group a Capacity Block with an on-demand fallback, a
// placement group and EFA.
func capacitySpec() Spec {
	spec := autoscaledSpec()
	spec.Groups[1].InstanceType = "g5.12xlarge"
	spec.Groups[1].Reservation = &Reservation{ID: "cr-0aaaaaaaaaaaaaaaa", CapacityBlock: true, FallbackToOnDemand: true}
	spec.Groups[1].PlacementGroup, spec.Groups[1].EFA = "pg-train", true
	spec.Groups[2].FallbackInstanceTypes = []string{"g6.2xlarge", "g6.4xlarge"}
	return spec
}

// The capacity settings are in the node types' node_config in boto3's
// RunInstances shape, and read back on import.
func TestRenderAutoscalerConfigCapacity(t *testing.T) {
	spec := capacitySpec()
	raw, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Types map[string]struct {
			NodeConfig map[string]any `json:"node_config"`
		} `json:"available_node_types"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	a10g := string(mustJSON(t, cfg.Types["a10g"].NodeConfig))
	for _, want := range []string{
		`"CapacityReservationSpecification":{"CapacityReservationTarget":{"CapacityReservationId":"cr-0aaaaaaaaaaaaaaaa"}}`,
		`"InstanceMarketOptions":{"MarketType":"capacity-block"}`,
		`"Placement":{"GroupName":"pg-train"}`,
		`"NetworkInterfaces":[{"DeleteOnTermination":true,"DeviceIndex":0,"Groups":["sg-0123456789abcdef0"],"InterfaceType":"efa","NetworkCardIndex":0,"SubnetId":"subnet-0123456789abcdef0"}]`,
		`"` + ReservationFallbackKey + `":true`,
	} {
		if !strings.Contains(a10g, want) {
			t.Errorf("a10g node_config lacks %s:\n%s", want, a10g)
		}
	}
	if l4 := string(mustJSON(t, cfg.Types["l4"].NodeConfig)); !strings.Contains(l4, `"`+FallbackTypesKey+`":["g6.2xlarge","g6.4xlarge"]`) {
		t.Errorf("l4 node_config lacks its fallback types:\n%s", l4)
	}
	got, err := ParseAutoscalerConfig(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got.Groups {
		w := spec.Groups[i+1]
		if !reflect.DeepEqual(g.NodeSpec, w.NodeSpec) {
			t.Errorf("group %s read back %+v, want %+v", g.Name, g.NodeSpec, w.NodeSpec)
		}
	}
}

// runCreateNode runs the node provider's create_node (testdata/
// create_node_check.py) on a node type's rendered node_config, with the
// launches in refuse refused.
func runCreateNode(t *testing.T, nc map[string]any, refuse map[string]string, spotFallback bool) (launches []string, tags []string, keys [][]string, errCode string) {
	t.Helper()
	py := testVenvPython(t)
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	path := filepath.Join(t.TempDir(), "node_config.json")
	if err := os.WriteFile(path, mustJSON(t, nc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join(dir, "testdata", "create_node_check.py"), path, string(mustJSON(t, refuse)), string(mustJSON(t, spotFallback)))
	cmd.Env = append(os.Environ(), "RAY_USAGE_STATS_ENABLED=0", "PYTHONPATH="+filepath.Join(dir, "scripts"))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("create_node: %v\n%s", err, stderr)
	}
	var res struct {
		Launches []struct {
			Launch string `json:"launch"`
			Tag    string `json:"market_tag"`
			Keys   []string
		}
		Error string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, l := range res.Launches {
		launches, tags, keys = append(launches, l.Launch), append(tags, l.Tag), append(keys, l.Keys)
	}
	return launches, tags, keys, res.Error
}

// Ray's autoscaler launches through the same fallbacks: the next type when
// the first is refused, spot then on demand, the reservation then on
// demand; and no rayvllm key reaches RunInstances.
func TestAutoscalerCreateNodeFallbacks(t *testing.T) {
	nodeConfig := renderNodeConfigs(t, capacitySpec())
	l4, a10g := nodeConfig["l4"], nodeConfig["a10g"]

	launches, _, keys, code := runCreateNode(t, l4, map[string]string{"g6.xlarge/spot": "InsufficientInstanceCapacity"}, true)
	if want := []string{"g6.xlarge/spot", "g6.2xlarge/spot"}; !reflect.DeepEqual(launches, want) || code != "" {
		t.Errorf("first type refused: launches %q (error %q), want %q", launches, code, want)
	}
	for _, k := range keys {
		for _, key := range k {
			if strings.HasPrefix(key, "rayvllm_") {
				t.Errorf("RunInstances would get %s", key)
			}
		}
	}

	spotRefused := map[string]string{"g6.xlarge/spot": "SpotMaxPriceTooLow", "g6.2xlarge/spot": "SpotMaxPriceTooLow", "g6.4xlarge/spot": "InsufficientInstanceCapacity"}
	launches, tags, _, code := runCreateNode(t, l4, spotRefused, true)
	if want := []string{"g6.xlarge/spot", "g6.2xlarge/spot", "g6.4xlarge/spot", "g6.xlarge/on-demand"}; !reflect.DeepEqual(launches, want) || code != "" || tags[3] != "on-demand-fallback" {
		t.Errorf("spot refused for every type: launches %q tags %q (error %q), want %q", launches, tags, code, want)
	}
	launches, _, _, code = runCreateNode(t, l4, spotRefused, false)
	if len(launches) != 1 || code != "SpotMaxPriceTooLow" {
		t.Errorf("without spot fallback: launches %q, error %q; want SpotMaxPriceTooLow after one launch (price is no capacity refusal)", launches, code)
	}

	launches, tags, keys, code = runCreateNode(t, a10g, map[string]string{"g5.12xlarge/reserved": "ReservationCapacityExceeded"}, false)
	if want := []string{"g5.12xlarge/reserved", "g5.12xlarge/on-demand"}; !reflect.DeepEqual(launches, want) || code != "" || tags[1] != "on-demand-fallback" {
		t.Errorf("full reservation: launches %q tags %q (error %q), want %q", launches, tags, code, want)
	}
	if len(keys) == 2 && (strings.Contains(strings.Join(keys[1], " "), "CapacityReservationSpecification") || strings.Contains(strings.Join(keys[1], " "), "InstanceMarketOptions")) {
		t.Errorf("the on-demand launch kept the reservation: %q", keys[1])
	}
	launches, _, _, code = runCreateNode(t, a10g, map[string]string{"g5.12xlarge/reserved": "InvalidParameterValue"}, false)
	if len(launches) != 1 || code != "InvalidParameterValue" {
		t.Errorf("an error that is not about capacity moved on: launches %q, error %q", launches, code)
	}
}
