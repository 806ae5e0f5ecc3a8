package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccModelDataSource(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// A Llama-3.2-1B-shaped config.json: 16 layers, hidden 2048, MLP 8192,
				// 32 heads, 8 KV heads, vocab 128256, tied embeddings. By hand:
				// embed 128256×2048 = 262.7M; per layer attention 2048×(2048+2×512+2048)
				// = 10.49M, MLP 3×2048×8192 = 50.33M, norms 4096 → 60.83M × 16 = 973.3M;
				// final norm 2048: 1,235,814,400 total.
				Config: `
data "rayvllm_model" "cfg" {
  model_config_json = jsonencode({
    architectures           = ["LlamaForCausalLM"]
    hidden_size             = 2048
    intermediate_size       = 8192
    num_hidden_layers       = 16
    num_attention_heads     = 32
    num_key_value_heads     = 8
    vocab_size              = 128256
    max_position_embeddings = 131072
    tie_word_embeddings     = true
    torch_dtype             = "bfloat16"
  })
}
data "rayvllm_model" "moe" {
  model = "Qwen/Qwen3-30B-A3B"
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rayvllm_model.cfg", tfjsonpath.New("params"), knownvalue.Int64Exact(1235814400)),
					statecheck.ExpectKnownValue("data.rayvllm_model.cfg", tfjsonpath.New("head_dim"), knownvalue.Int64Exact(64)),
					// 2 × 16 × 8 × 64 × 2 B
					statecheck.ExpectKnownValue("data.rayvllm_model.cfg", tfjsonpath.New("kv_cache_bytes_per_token"), knownvalue.Int64Exact(32768)),
					// Qwen3-30B-A3B: 30.5B total, 3.3B active (model card).
					statecheck.ExpectKnownValue("data.rayvllm_model.moe", tfjsonpath.New("params"), int64Between(29_900_000_000, 31_100_000_000)),
					statecheck.ExpectKnownValue("data.rayvllm_model.moe", tfjsonpath.New("active_params"), int64Between(3_200_000_000, 3_400_000_000)),
					statecheck.ExpectKnownValue("data.rayvllm_model.moe", tfjsonpath.New("num_experts"), knownvalue.Int64Exact(128)),
				},
			},
			{
				Config:      `data "rayvllm_model" "x" { model_config_json = "not json" }`,
				ExpectError: regexp.MustCompile(`model_config_json`),
			},
		},
	})
}
