"""Reads config.json files as transformers and vLLM do, for TestConfigDifferential.

stdin: a JSON list of {"name", "dir"}; each dir holds a config.json.
stdout: one JSON object per line: {"name", "params", "vllm": {...}} or "error".

Everything runs in this one process (importing vLLM takes a while; the Go
test starts a few of these, each with its share of the configs):
  - params: transformers' parameter count of the model built on the meta
    device (no weights; tied parameters counted once);
  - vllm: vLLM's ModelConfig view of the language model: head size, total KV
    heads, layers, sliding window, sliding layers (layer_types of the text
    config), max_model_len (the default) and the longest max_model_len it
    accepts (_get_and_verify_max_len), and the chunk of chunked local
    attention (ModelConfig.attention_chunk_size; 0 for none). For a multimodal config the text config
    is written on its own and read by vLLM: vLLM's inspection of the
    multimodal class imports torchvision, which the test venv leaves out
    (.ci/requirements.lock).
Offline: HF_HUB_OFFLINE is set; nothing is downloaded.
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import traceback

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig  # noqa: E402

transformers.logging.set_verbosity_error()

import vllm.model_executor.models.registry as vllm_registry  # noqa: E402
from vllm.config import ModelConfig  # noqa: E402
from vllm.config.model import _get_and_verify_max_len  # noqa: E402

# ModelConfig inspects each architecture's class (_ModelInfo) in a fresh
# Python process, to keep CUDA uninitialized in the caller, and caches the
# answer under VLLM_CACHE_ROOT. On a fresh machine that is one more import of
# torch and vLLM per architecture, most of this script's time. The test venv
# is CPU-only, so the same inspection runs here, in this process.
vllm_registry._run_in_subprocess = lambda fn: fn()

# The causal-LM class vLLM registers for a text model_type.
TEXT_ARCH = {
    "gemma3_text": "Gemma3ForCausalLM",
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "llama4_text": "Llama4ForCausalLM",
    "glm4v_text": "Glm4ForCausalLM",
    "glm4v_moe_text": "Glm4MoeForCausalLM",
    "qwen2_5_vl_text": "Qwen2ForCausalLM",
}


def count_params(cfg):
    # A quantized checkpoint's logical parameters: build it unquantized.
    for c in (cfg, cfg.get_text_config()):
        if hasattr(c, "quantization_config"):
            delattr(c, "quantization_config")
    multimodal = cfg.get_text_config() is not cfg
    auto = transformers.AutoModelForImageTextToText if multimodal else transformers.AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def vllm_view(d, cfg):
    text = cfg.get_text_config()
    if text is not cfg:
        td = text.to_dict()
        mt = td.get("model_type")
        td["architectures"] = [TEXT_ARCH.get(mt, "LlamaForCausalLM")]
        if mt == "qwen2_5_vl_text":
            td["model_type"] = "qwen2"
        td.pop("quantization_config", None)
        d = tempfile.mkdtemp(dir=d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(td, f)
    else:
        with open(os.path.join(d, "config.json")) as f:
            raw = json.load(f)
        if raw.pop("quantization_config", None) is not None:
            # The architecture view does not depend on it, and vLLM 0.32
            # no longer knows some methods (bitsandbytes).
            d = tempfile.mkdtemp(dir=d)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(raw, f)
    mc = ModelConfig(model=d, tokenizer=d, skip_tokenizer_init=True, dtype="float32")
    t = mc.hf_text_config
    sw = mc.get_sliding_window() or 0
    lt = getattr(t, "layer_types", None)
    layers = mc.get_total_num_hidden_layers()
    if sw and lt:
        sliding = sum(1 for x in lt if x == "sliding_attention")
    else:
        sliding = layers if sw else 0

    def accepts(n):
        try:
            _get_and_verify_max_len(
                hf_config=t, model_arch_config=mc.model_arch_config, tokenizer_config=None,
                max_model_len=n, disable_sliding_window=False, sliding_window=mc.get_sliding_window())
            return True
        except ValueError:
            return False

    lo, hi = mc.max_model_len, mc.max_model_len * 1024
    while lo < hi:  # the longest accepted length
        mid = (lo + hi + 1) // 2
        if accepts(mid):
            lo = mid
        else:
            hi = mid - 1
    return {
        "head_size": mc.get_head_size(),
        "kv_heads": mc.get_total_num_kv_heads(),
        "layers": layers,
        "sliding_window": sw,
        "sliding_layers": sliding,
        "max_model_len": mc.max_model_len,
        "max_model_len_limit": lo,
        "mla": bool(mc.is_deepseek_mla),
        "attention_chunk": mc.attention_chunk_size or 0,
    }


def main():
    cases = json.load(sys.stdin)
    for c in cases:
        out = {"name": c["name"]}
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink):
                cfg = AutoConfig.from_pretrained(c["dir"])
                out["params"] = count_params(cfg)
                out["vllm"] = vllm_view(c["dir"], cfg)
        except Exception as e:  # reported per config; the Go test decides
            out["error"] = f"{type(e).__name__}: {e}"
            out["trace"] = traceback.format_exc(limit=3)[-600:]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
