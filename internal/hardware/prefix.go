package hardware

import "math"

// cachedPrefixTokens is the part of each prompt vLLM's automatic prefix
// caching serves from the KV cache when every prompt starts with the same
// shared tokens. vLLM hashes full KV blocks only, so a shared prefix counts
// in whole blocks, and it always computes at least a prompt's last token
// (docs.vllm.ai, "Automatic Prefix Caching" and its design page; the block
// hash chain in vllm/v1/core/kv_cache_utils.py). 0 without prefix caching.
func cachedPrefixTokens(on bool, shared, inTokens, block int) float64 {
	if !on || shared <= 0 || block <= 0 {
		return 0
	}
	return math.Max(0, math.Min(float64(shared/block*block), float64(inTokens-1)))
}
