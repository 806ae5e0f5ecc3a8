"""vLLM's own accounting of hybrid (attention + state) models, for TestHybridKVMatchesVLLM.

stdin: a JSON list of {"name", "dir", "tp"}; each dir holds a config.json.
stdout: one JSON object per line: {"name", "params", "vllm": {...}} or "error".

Everything runs in this one process (importing vLLM takes a while). For each
config, with vLLM 0.32's defaults (bf16, mamba_cache_dtype auto, no
speculative decoding):
  - the model class vLLM registers for architectures[0], and its
    verify_and_update_config (which picks mamba_ssm_cache_dtype);
  - state_page: MambaSpec(shapes=cls.get_mamba_state_shape_from_config(...),
    dtypes=cls.get_mamba_state_dtype_from_config(...)).page_size_bytes;
  - attn_page_1: FullAttentionSpec(block_size=1, ...).page_size_bytes for one
    rank's KV heads;
  - block_size: the attention block size Platform._align_hybrid_block_size
    sets from those two pages and the FlashAttention kernel block;
  - attn_layers / state_layers: from the transformers config's own layer
    list (layer_types / layers_block_type);
  - params: transformers' parameter count on the meta device.
Offline: nothing is downloaded.
"""

import contextlib
import io
import json
import math
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

from vllm.model_executor.models.config import MODELS_CONFIG_MAP  # noqa: E402
from vllm.model_executor.models.registry import ModelRegistry  # noqa: E402
from vllm.v1.kv_cache_interface import FullAttentionSpec, MambaSpec  # noqa: E402


def kernel_block():
    try:
        from vllm.v1.attention.backend import MultipleOf
        from vllm.v1.attention.backends.flash_attn import FlashAttentionBackend

        sizes = FlashAttentionBackend.get_supported_kernel_block_sizes()
        return min(s.base if isinstance(s, MultipleOf) else s for s in sizes)
    except Exception:  # CPU build without the CUDA backend: its documented 16
        return 16


def layer_kinds(cfg):
    kinds = getattr(cfg, "layers_block_type", None) or getattr(cfg, "layer_types", None)
    attn = sum(1 for k in kinds if k in ("attention", "full_attention"))
    state = sum(1 for k in kinds if k in ("mamba", "linear_attention"))
    return attn, state


def count_params(cfg):
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def view(cfg, tp, kb):
    arch = cfg.architectures[0]
    cls = ModelRegistry._try_load_model_cls(arch)
    dtype = torch.bfloat16
    ns = SimpleNamespace(
        parallel_config=SimpleNamespace(tensor_parallel_size=tp),
        model_config=SimpleNamespace(hf_config=cfg, hf_text_config=cfg, dtype=dtype, architecture=arch),
        cache_config=SimpleNamespace(mamba_cache_dtype="auto", mamba_ssm_cache_dtype="auto", use_replayssm=False,
                                     use_kda_recoverssm=False),
        speculative_config=None, num_speculative_tokens=0, mamba_config=None)
    hook = MODELS_CONFIG_MAP.get(arch)
    if hook is not None and hasattr(hook, "update_mamba_ssm_cache_dtype"):
        hook.update_mamba_ssm_cache_dtype(cache_config=ns.cache_config, hf_config=cfg)
    shapes = cls.get_mamba_state_shape_from_config(ns)
    dtypes = cls.get_mamba_state_dtype_from_config(ns)
    state_page = MambaSpec(shapes=shapes, dtypes=dtypes, block_size=-1).page_size_bytes
    kv_heads = max(1, cfg.num_key_value_heads // tp)
    head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    attn1 = FullAttentionSpec(block_size=1, num_kv_heads=kv_heads, head_size=head, dtype=dtype).page_size_bytes
    align = max(kb, 16)  # the kernel block, and cache_config.block_size's default
    block = align * math.ceil(state_page / (align * attn1))
    block = kb * math.ceil(block / kb)
    attn, state = layer_kinds(cfg)
    return {"state_page": state_page, "attn_page_1": attn1, "block_size": max(16, block),
            "attn_layers": attn, "state_layers": state, "shapes": [list(s) for s in shapes],
            "dtypes": [str(d) for d in dtypes]}


def main():
    kb = kernel_block()
    params = {}
    for c in json.load(sys.stdin):
        out = {"name": c["name"]}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                cfg = AutoConfig.from_pretrained(c["dir"])
                if c["dir"] not in params:
                    params[c["dir"]] = count_params(cfg)
                out["params"] = params[c["dir"]]
                out["vllm"] = view(cfg, c["tp"], kb)
        except Exception as e:  # reported per config; the Go test decides
            out["error"] = f"{type(e).__name__}: {e}"
            out["trace"] = traceback.format_exc(limit=4)[-800:]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
