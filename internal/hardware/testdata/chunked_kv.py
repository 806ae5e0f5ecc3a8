"""vLLM's own KV accounting of chunked-local-attention models (Llama 4), for TestChunkedKVMatchesVLLM.

stdin: a JSON list of {"name", "dir", "tp", "max_model_len", "max_num_batched_tokens"}; each dir holds a config.json.
stdout: one JSON object per line: {"name", "vllm": {...}} or "error".

For each case, with vLLM 0.32's KV cache specs (bf16 cache, block size 16):
  - layer kinds as vLLM's Llama4Attention picks them: a layer is NoPE (full
    attention) when the transformers config's no_rope_layers[i] is 0, else
    ChunkedLocalAttention when attention_chunk_size is set
    (vllm/model_executor/models/llama4.py);
  - request_bytes: the sum over the layers of FullAttentionSpec /
    ChunkedLocalAttentionSpec .max_memory_usage_bytes(vllm_config) for one
    rank's KV heads (what check_enough_kv_cache_memory adds up), with
    max_in_flight_tokens = max_num_batched_tokens;
  - page_1: FullAttentionSpec(block_size=1).page_size_bytes (KV bytes per
    token per layer);
  - chunked_layers / full_layers.
Offline: nothing is downloaded.
"""

import contextlib
import io
import json
import os
import sys
import traceback
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig  # noqa: E402

transformers.logging.set_verbosity_error()

from vllm.v1.kv_cache_interface import ChunkedLocalAttentionSpec, FullAttentionSpec  # noqa: E402

BLOCK = 16


def view(cfg, tp, mml, mbt):
    t = cfg.get_text_config()
    kv_heads = max(1, t.num_key_value_heads // tp)
    head = getattr(t, "head_dim", None) or t.hidden_size // t.num_attention_heads
    dtype = torch.bfloat16
    vc = SimpleNamespace(max_in_flight_tokens=mbt, model_config=SimpleNamespace(max_model_len=mml),
                         parallel_config=SimpleNamespace(decode_context_parallel_size=1))
    full = FullAttentionSpec(block_size=BLOCK, num_kv_heads=kv_heads, head_size=head, dtype=dtype)
    chunk = t.attention_chunk_size
    chunked = full
    if chunk:
        chunked = ChunkedLocalAttentionSpec(block_size=BLOCK, num_kv_heads=kv_heads, head_size=head, dtype=dtype,
                                            attention_chunk_size=chunk)
    total, n_chunked = 0, 0
    for i in range(t.num_hidden_layers):
        nope = t.no_rope_layers[i] == 0
        use_chunked = (not nope) and bool(chunk)
        n_chunked += use_chunked
        total += (chunked if use_chunked else full).max_memory_usage_bytes(vc)
    page1 = FullAttentionSpec(block_size=1, num_kv_heads=kv_heads, head_size=head, dtype=dtype).page_size_bytes
    return {"request_bytes": total, "page_1": page1, "chunked_layers": n_chunked,
            "full_layers": t.num_hidden_layers - n_chunked}


def main():
    for c in json.load(sys.stdin):
        out = {"name": c["name"]}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                cfg = AutoConfig.from_pretrained(c["dir"])
                out["vllm"] = view(cfg, c["tp"], c["max_model_len"], c["max_num_batched_tokens"])
        except Exception as e:  # reported per case; the Go test decides
            out["error"] = f"{type(e).__name__}: {e}"
            out["trace"] = traceback.format_exc(limit=4)[-800:]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
