package hardware

import (
	"fmt"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// pipelineStage is the part of m that one GPU of a pipeline-parallel engine
// holds. vLLM splits the decoder layers evenly over the pp stages, the
// remainder going to some stages (get_pp_indices, vllm/distributed/utils.py),
// so the largest stage, ceil(layers/pp), binds the fit: its weights, KV
// cache and CUDA graphs scale with its layers. The embedding and lm_head
// (first and last stage) stay in the stage, which over-counts the middle
// stages by one embedding. The result's pp is at least 1.
func pipelineStage(m hfconfig.Model, pp int) (hfconfig.Model, int, error) {
	if pp <= 1 {
		return m, 1, nil
	}
	if pp > m.NumLayers {
		return m, pp, &input.InputError{Attribute: "pipeline_parallel_size", Message: fmt.Sprintf("%d is more than the model's %d layers; each stage needs one. Valid: 1 to %d", pp, m.NumLayers, m.NumLayers)}
	}
	if m.State != nil {
		return m, pp, &input.InputError{Attribute: "pipeline_parallel_size", Message: fmt.Sprintf("%d: the fit engine does not model pipeline stages of a hybrid (state-space) model; leave pipeline_parallel_size unset or 1", pp)}
	}
	layers := m.NumLayers
	m.NumLayers = ceilDiv(layers, pp)
	if m.SlidingWindowLayers > 0 {
		m.SlidingWindowLayers = min(ceilDiv(m.SlidingWindowLayers, pp), m.NumLayers)
	}
	if m.ChunkedLayers > 0 {
		m.ChunkedLayers = min(ceilDiv(m.ChunkedLayers, pp), m.NumLayers)
	}
	m.FirstDenseLayers = min(m.FirstDenseLayers, m.NumLayers)
	return m, pp, nil
}

// gpusPerReplica is the GPUs one engine replica spans: tp × pp.
func (e engine) gpusPerReplica() int { return e.tp * max(e.pp, 1) }
