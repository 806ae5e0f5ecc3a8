package hardware

// Chunked local attention (Llama 4): a layer attends only within its chunk
// of attention_chunk_size tokens, so vLLM frees the blocks of finished
// chunks. Its page is a full-attention page (ChunkedLocalAttentionSpec is an
// AttentionSpec), and one request holds at most
// cdiv(min(attention_chunk_size + max_in_flight_tokens, max_model_len), block)
// blocks of it: ChunkedLocalAttentionSpec.max_admission_blocks_per_request
// and max_memory_usage_bytes, vllm/v1/kv_cache_interface.py lines 810–837
// (vLLM 0.32.0). In-flight tokens are max_num_batched_tokens, as for the
// sliding window (requestKVBytes). vLLM keeps these specs (the hybrid KV
// cache manager) unless VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE=0
// or EAGLE speculation (VllmConfig, vllm/config/vllm.py lines 2148–2168),
// which the provider does not set.

// chunkedKVBytes is what one request of mml tokens takes in the chunked
// layers on one GPU, page being one layer's block.
func (e engine) chunkedKVBytes(mml int, page float64) float64 {
	if e.m.ChunkedLayers == 0 || e.m.AttentionChunk == 0 {
		return 0
	}
	n := min(e.m.AttentionChunk+e.mbt, mml)
	return float64(e.m.ChunkedLayers) * float64(ceilDiv(n, e.block)) * page
}
