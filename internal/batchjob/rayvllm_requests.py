"""Per-row requests of the built-in batch script (rayvllm_batch.py): the
OpenAI batch file format in and out, per-row sampling parameters, and the
finish_reason of a generation. Shipped beside it in the same py_modules
package.

OpenAI batch input (input.format = "openai_batch"): one JSON request a line,

    {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"messages": [...], "max_tokens": 8, "temperature": 0}}

custom_id is the row's id (the identity of #21: unique, not null). url is
/v1/chat/completions (body.messages, rendered with the chat template) or
/v1/completions (body.prompt, one string). The body's sampling fields
(SAMPLING, in vLLM's SamplingParams names, plus the OpenAI names in
OPENAI_ALIASES) become the row's sampling parameters over the job's
defaults. A field the engine cannot honour is refused before any engine
starts, with its file and line.

OpenAI batch output (output.format = "openai_batch"): one line a request,
as vLLM's run-batch and the OpenAI Batch API write it:

    {"id": ..., "custom_id": "r1", "error": null,
     "response": {"status_code": 200, "request_id": ..., "body": <chat.completion or text_completion>}}

finish_reason. ray.data.llm's engine stage keeps only the text and tokens
of a generation (vLLMOutputData), not vLLM's finish reason, so it is
derived from the tokens with vLLM's own stop rule, in its order
(vllm/v1/core/sched/utils.py, check_stop): the last token is the EOS token
or a stop token id -> "stop"; the sequence reached max_model_len or the
output max_tokens -> "length"; otherwise the generation ended on a stop
string -> "stop". The EOS ids are the tokenizer's eos_token_id and the
generation config's eos_token_id, as vLLM's
SamplingParams.update_from_generation_config adds them (not with
ignore_eos). One case reads differently from vLLM: a stop string that
ends the generation exactly at its max_tokens-th token says "length"
here, "stop" in vLLM (its detokenizer overrides the length cap).
"""

import hashlib
import json
import time

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
URLS = (CHAT, COMPLETIONS)
# vLLM SamplingParams fields a row may set, with the JSON type they take.
SAMPLING = {
    "max_tokens": "int", "min_tokens": "int", "temperature": "number", "top_p": "number", "top_k": "int",
    "min_p": "number", "seed": "int", "stop": "stop", "stop_token_ids": "ints", "presence_penalty": "number",
    "frequency_penalty": "number", "repetition_penalty": "number", "ignore_eos": "bool",
    "skip_special_tokens": "bool", "include_stop_str_in_output": "bool", "n": "one",
}
# OpenAI body names of SamplingParams fields.
OPENAI_ALIASES = {"max_completion_tokens": "max_tokens"}
# Body fields that are not sampling parameters and that the run honours
# (model is echoed in the response; user is the caller's label).
BODY_FIELDS = {CHAT: {"messages", "model", "user", "stream"}, COMPLETIONS: {"prompt", "model", "user", "stream"}}
# Why fields that OpenAI defines are refused (vLLM has them, the batch
# engine stage does not return them).
NOT_YET = {
    "logprobs": "ray.data.llm returns token logprobs without the OpenAI logprobs object; not supported yet",
    "top_logprobs": "needs logprobs, which is not supported yet",
    "response_format": "structured output is not supported yet",
    "tools": "tool calls are not supported by the batch engine stage",
    "tool_choice": "tool calls are not supported by the batch engine stage",
    "echo": "echo is not supported by the batch engine stage",
    "best_of": "best_of is not supported by vLLM's V1 engine",
    "suffix": "suffix is not supported by vLLM",
}
# Internal column: what the postprocess and the OpenAI output need to know
# of the request (url, model, max_tokens, stop ids), as JSON.
REQUEST_COLUMN = "_rayvllm_request"
FINISH_REASON = "finish_reason"


def _typed(kind, v):
    """(value in vLLM's type, None) or (None, what was expected)."""
    isnum = isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
        return v, None
    if kind == "number" and isnum:
        return float(v), None
    if kind == "bool" and isinstance(v, bool):
        return v, None
    if kind == "stop" and (isinstance(v, str) or isinstance(v, list) and all(isinstance(s, str) for s in v)):
        return [v] if isinstance(v, str) else v, None
    if kind == "ints" and isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return v, None
    if kind == "one" and v == 1:
        return None, None
    want = {"int": "an integer", "number": "a number", "bool": "true or false", "stop": "a string or a list of strings",
            "ints": "a list of integers", "one": "1 (ray.data.llm returns one choice per request)"}[kind]
    return None, f"must be {want}, got {json.dumps(v)}"


def sampling_from(fields, aliases=None):
    """(SamplingParams keyword arguments, problem or None) of a dict of
    sampling fields: the names in SAMPLING, or in aliases."""
    out = {}
    for name, v in fields.items():
        key = (aliases or {}).get(name, name)
        if key not in SAMPLING:
            why = NOT_YET.get(name) or f"not a sampling parameter the engine takes; valid: {', '.join(sorted(SAMPLING))}"
            return None, f"field {name!r}: {why}"
        if v is None:
            continue
        value, problem = _typed(SAMPLING[key], v)
        if problem:
            return None, f"field {name!r} {problem}"
        if key != "n":
            out[key] = value
    return out, None


def parse_line(line):
    """(custom_id, url, body as JSON text, sampling JSON text, problem or
    None) of one OpenAI batch request line."""
    try:
        req = json.loads(line)
    except ValueError as e:
        return None, None, None, None, f"not JSON ({e})"
    if not isinstance(req, dict):
        return None, None, None, None, "not a JSON object"
    cid, url, body = req.get("custom_id"), req.get("url"), req.get("body")
    extra = sorted(set(req) - {"custom_id", "method", "url", "body"})
    problem = None
    if extra:
        problem = f"field {extra[0]!r} is not part of a batch request (custom_id, method, url, body)"
    elif not isinstance(cid, str) or not cid:
        problem = f"custom_id must be a non-empty string, got {json.dumps(cid)}"
    elif req.get("method", "POST") != "POST":
        problem = f"method must be POST, got {json.dumps(req.get('method'))}"
    elif url not in URLS:
        problem = f"url {json.dumps(url)} is not supported; valid: {', '.join(URLS)}"
    elif not isinstance(body, dict):
        problem = "body must be a JSON object"
    sampling = None
    if problem is None:
        sampling, problem = check_body(url, body)
    cid = cid if isinstance(cid, str) and cid else None
    return (cid, url, json.dumps(body) if problem is None else None,
            json.dumps(sampling) if problem is None else None, problem)


def check_body(url, body):
    """(sampling fields, problem or None) of a request body."""
    if body.get("stream"):
        return None, "body field 'stream': a batch request cannot stream; remove it or set it to false"
    if url == CHAT:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and "role" in m for m in msgs):
            return None, "body field 'messages' must be a non-empty list of {role, content} objects"
    elif not isinstance(body.get("prompt"), str):
        return None, "body field 'prompt' must be one string (a list of prompts is one request per line here)"
    fields = {k: v for k, v in body.items() if k not in BODY_FIELDS[url]}
    return sampling_from(fields, OPENAI_ALIASES)


def sampling_column(value):
    """(sampling JSON text, problem or None) of a sampling_params cell: a
    JSON object, as text or as a struct."""
    if value is None:
        return "{}", None
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as e:
            return None, f"not a JSON object ({e})"
    if not isinstance(value, dict):
        return None, f"must be a JSON object, got {json.dumps(value)}"
    sampling, problem = sampling_from(value)
    return (json.dumps(sampling), None) if problem is None else (None, problem)


_DEFAULTS = {}


def vllm_defaults():
    """vLLM's SamplingParams defaults of SAMPLING. Every row gets every key:
    Ray Data stores the rows' dicts as one struct column, where a key a row
    lacks would read as null."""
    if not _DEFAULTS:
        import vllm

        d = vllm.SamplingParams()
        # [] as None (which vLLM takes for "none"): an empty list has Arrow
        # type list<null>, which would not match a row's list<string>.
        _DEFAULTS.update({k: getattr(d, k) if getattr(d, k) != [] else None for k in SAMPLING if k != "n"})
    return _DEFAULTS


_TOKENIZERS = {}


def tokenizer(model_source):
    if model_source not in _TOKENIZERS:
        from transformers import AutoTokenizer

        _TOKENIZERS[model_source] = AutoTokenizer.from_pretrained(model_source)
    return _TOKENIZERS[model_source]


def chat_prompt(model_source, messages):
    """(prompt, token ids) of a chat request as vLLM's chat server makes
    them: the model's chat template with the generation prompt, tokenized
    without special tokens (the template carries its own BOS). Done here,
    not in ray.data.llm's chat template stage, because its engine stage
    tokenizes a text prompt with the special tokens (a second BOS) and
    passes no tokenization_kwargs to generate."""
    tok = tokenizer(model_source)
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text, tok.encode(text, add_special_tokens=False)


_EOS = {}


def eos_ids(model_source):
    """The EOS token ids vLLM stops on for this model (module docstring)."""
    if model_source not in _EOS:
        ids = set()
        try:
            from transformers import AutoTokenizer, GenerationConfig

            tok = AutoTokenizer.from_pretrained(model_source)
            if tok.eos_token_id is not None:
                ids.add(tok.eos_token_id)
            try:
                gen = GenerationConfig.from_pretrained(model_source).eos_token_id
                ids.update([gen] if isinstance(gen, int) else gen or [])
            except (OSError, ValueError):
                pass
        except (ImportError, OSError, ValueError):
            pass
        _EOS[model_source] = ids
    return _EOS[model_source]


def finish_reason(tokens, n_in, n_out, req, max_model_len, model_source):
    """vLLM's finish reason of a finished generation (module docstring)."""
    if tokens is not None and len(tokens):
        last = int(tokens[-1])
        stops = set(req.get("stop_token_ids") or [])
        if not req.get("ignore_eos"):
            stops |= eos_ids(model_source)
        if last in stops:
            return "stop"
    max_tokens = req.get("max_tokens")
    if max_model_len and n_in + n_out >= max_model_len or max_tokens is not None and n_out >= max_tokens:
        return "length"
    return "stop"


def _hash(s):
    return hashlib.blake2b(s.encode(), digest_size=12).hexdigest()


def response_line(row, created=None):
    """One OpenAI batch output line of an output row."""
    req = json.loads(row[REQUEST_COLUMN])
    cid, h = row["custom_id"], _hash(row["custom_id"])
    usage = {"prompt_tokens": row["num_input_tokens"], "completion_tokens": row["num_generated_tokens"],
             "total_tokens": row["num_input_tokens"] + row["num_generated_tokens"]}
    choice = {"index": 0, "logprobs": None, "finish_reason": row[FINISH_REASON]}
    if req["url"] == CHAT:
        choice["message"] = {"role": "assistant", "content": row["generated_text"]}
        obj, prefix = "chat.completion", "chatcmpl-"
    else:
        choice["text"] = row["generated_text"]
        obj, prefix = "text_completion", "cmpl-"
    body = {"id": prefix + h, "object": obj, "created": int(created or time.time()), "model": req["model"],
            "choices": [choice], "usage": usage}
    return {"id": "batch_req_" + h, "custom_id": cid, "error": None,
            "response": {"status_code": 200, "request_id": "req_" + h, "body": body}}


def error_line(row):
    """One OpenAI batch output line of a row the engine rejected."""
    h = _hash(row["custom_id"])
    return {"id": "batch_req_" + h, "custom_id": row["custom_id"], "response": None,
            "error": {"code": "inference_error", "message": row["error"]}}


def encode_openai(table):
    if "error" in table.column_names:
        lines = [error_line(r) for r in table.to_pylist()]
    else:
        created = time.time()
        lines = [response_line(r, created) for r in table.to_pylist()]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
