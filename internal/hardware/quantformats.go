package hardware

import (
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

// mxfp4PaddedParams is one rank's element count of an MXFP4 expert stack as
// vLLM allocates it: its CUDA MXFP4 MoE kernels (Marlin on sm80/sm90,
// TRT-LLM on sm100) pad the hidden size to a multiple of 256 and each
// rank's intermediate size to a multiple of 128
// (mxfp4_round_up_hidden_size_and_intermediate_size,
// vllm/model_executor/layers/fused_moe/oracle/mxfp4.py, 0.32.0). For
// gpt-oss (2880 both) that is 3072 × 2944 at TP 1: 9% more expert bytes than
// the checkpoint holds. 0 when l is not such a matrix.
//
// The padding is release-dependent: vLLM 0.10/0.11 ran Hopper's MXFP4 MoE on
// triton_kernels, which pads the intermediate size to 64 only (gpt-oss-120b
// started on one H100 under 0.10.2, record R13, which the padded weights
// would not allow); the first start-up record with the padded weights is
// 0.19 (M28, gpt-oss-20b on an A100: 13.72 GiB). Releases before 0.19 are
// counted unpadded.
func (e engine) mxfp4PaddedParams(l hfconfig.Linear) float64 {
	q := e.prec.Quant
	if q == nil || q.Method != "mxfp4" || l.Count <= 1 || !l.Quantized || q.Skips(l.Path) || !e.version.padsMXFP4() {
		return 0
	}
	h := roundUp(e.m.HiddenSize, 256)
	i := roundUp(e.m.ExpertIntermediateSize/e.tp, 128)
	switch {
	case strings.HasSuffix(l.Path, "gate_up_proj"):
		return float64(h) * float64(2*i) * float64(l.Count)
	case strings.HasSuffix(l.Path, "down_proj"):
		return float64(i) * float64(h) * float64(l.Count)
	}
	return 0
}

func roundUp(v, to int) int { return ceilDiv(v, to) * to }

func (v vllmRelease) padsMXFP4() bool { return v.atLeast(0, 19) }
