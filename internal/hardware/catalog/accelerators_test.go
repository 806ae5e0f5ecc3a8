package catalog

import "testing"

func TestAcceleratorGPUs(t *testing.T) {
	for name, want := range map[string][]string{
		"A100": {"A100-80GB", "A100-40GB"}, "A100-40G": {"A100-40GB"}, "A10": {"A10G"}, "H100": {"H100-80GB-SXM"},
		"AMD-Instinct-MI300X-OAM": {"MI300X"}, "L4": {"L4"}, "A100-80GB": {"A100-80GB"}, "nvidia l4": {"L4"},
	} {
		gpus, err := AcceleratorGPUs(name)
		if err != nil || len(gpus) != len(want) {
			t.Fatalf("%s: got %v, %v", name, gpus, err)
		}
		for i := range want {
			if gpus[i].Name != want[i] {
				t.Errorf("%s: got %s at %d, want %s", name, gpus[i].Name, i, want[i])
			}
		}
	}
	if _, err := AcceleratorGPUs("TPU-V4"); err == nil {
		t.Error("TPU-V4: want an error")
	}
	// Every Ray name the map holds resolves.
	for name := range rayAcceleratorGPUs {
		if _, err := AcceleratorGPUs(name); err != nil {
			t.Error(err)
		}
	}
}
