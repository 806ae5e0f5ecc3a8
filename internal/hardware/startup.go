package hardware

import (
	"fmt"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// Start-up of one node launch, before the engine serves its first request.
// The times are estimates with the source of each; measure your own AMI
// (the bootstrap log has the times) where it matters.
const (
	// bootSeconds: EC2 launch to a running OS and cloud-init on a GPU
	// instance. AWS publishes no figure; 60–120 s is what launches of
	// GPU AMIs commonly take (the NVIDIA driver's load included): 90 s.
	bootSeconds = 90
	// installSeconds: the cluster bootstrap's pip install of Ray and vLLM
	// (torch and CUDA wheels: about 3 GB) into a fresh environment; 0 with a
	// prepared image. About 3 minutes at the 20–50 MB/s pip reaches from
	// PyPI's CDN with dependency resolution.
	installSeconds = 180
	// hubBytesPerSecond: huggingface_hub's download without hf_transfer,
	// one stream per file: about 100 MB/s (hf_transfer's own documentation
	// reports "up to 500 MB/s" against this baseline).
	hubBytesPerSecond = 100e6
	// s3BytesPerSecond: S3 to one instance with parallel ranged GETs. AWS's
	// S3 performance guidelines give about 85–90 MB/s per connection and
	// recommend parallel connections; 8 of them: 700 MB/s.
	s3BytesPerSecond = 700e6
	// loadBytesPerSecond: safetensors from the page cache (the files were
	// just downloaded) over PCIe into GPU memory, with vLLM's per-tensor
	// loader: about 2 GB/s.
	loadBytesPerSecond = 2e9
	// compileSeconds: vLLM V1's torch.compile of the model and CUDA-graph
	// capture on a cold cache: vLLM logs 20–60 s for 7–70B models
	// ("torch.compile takes … s in total", "Graph capturing finished in …
	// secs"): 60 s.
	compileSeconds = 60
)

// Model sources for the download term.
const (
	ModelSourceHub = "hub"
	ModelSourceS3  = "s3"
)

// ModelSources are the valid model_source values.
var ModelSources = []string{ModelSourceHub, ModelSourceS3}

// Startup is one node launch's start-up, by phase (seconds).
type Startup struct {
	Boot, Install, Download, Load, Compile float64
}

// Seconds is the whole start-up.
func (s Startup) Seconds() float64 { return s.Boot + s.Install + s.Download + s.Load + s.Compile }

func (s Startup) String() string {
	parts := []string{fmt.Sprintf("boot %.0f s", s.Boot)}
	if s.Install > 0 {
		parts = append(parts, fmt.Sprintf("install %.0f s", s.Install))
	}
	parts = append(parts, fmt.Sprintf("model download %.0f s", s.Download), fmt.Sprintf("load %.0f s", s.Load), fmt.Sprintf("compile %.0f s", s.Compile))
	return strings.Join(parts, " + ")
}

// startupFor estimates a node launch that downloads the checkpoint
// (weights of all ranks) from source and loads it.
func startupFor(checkpointBytes float64, source string, preparedImage bool) (Startup, error) {
	bw := hubBytesPerSecond
	switch source {
	case "", ModelSourceHub:
	case ModelSourceS3:
		bw = s3BytesPerSecond
	default:
		return Startup{}, &input.InputError{Attribute: "model_source", Message: fmt.Sprintf("unknown model source %q; valid: %s", source, strings.Join(ModelSources, ", "))}
	}
	s := Startup{Boot: bootSeconds, Install: installSeconds, Download: checkpointBytes / bw, Load: checkpointBytes / loadBytesPerSecond, Compile: compileSeconds}
	if preparedImage {
		s.Install = 0
	}
	return s, nil
}
