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

Structured output. A row's (or the run's) `structured_outputs` is vLLM's
StructuredOutputsParams (vllm/sampling_params.py) with one of `json` (a
JSON schema, as an object or its JSON text), `regex` or `choice` (a
non-empty list of strings). ray.data.llm's engine stage builds
StructuredOutputsParams from sampling_params["structured_outputs"]
(ray/llm/_internal/batch/stages/vllm_engine_stage.py). It is normalized to
{json: schema text, regex, choice}, one Arrow struct type for every row, and
checked before any engine starts: the schema parses, the regex compiles
(Python's re; vLLM's backends take a subset), the choice is not empty. An
OpenAI body takes it as response_format {"type": "json_schema",
"json_schema": {"schema": ...}} or {"type": "json_object"}, or as vLLM's
extra field structured_outputs.

Logprobs. vLLM's logprobs (the top-k count) go to the engine; the engine
stage returns each generated token's {token id: {logprob, rank,
decoded_token}} (vLLMOutputData.logprobs), which become the OpenAI
logprobs object (chat: content[], completions: tokens/token_logprobs/
top_logprobs) or, in columnar output, a `logprobs` column of JSON text:
[{token, token_id, logprob, top_logprobs: [{token, token_id, logprob}]}].
"""

import hashlib
import json
import re
import time

import pyarrow.compute as pc

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
URLS = (CHAT, COMPLETIONS)
# vLLM SamplingParams fields a row may set, with the JSON type they take.
SAMPLING = {
    "max_tokens": "int", "min_tokens": "int", "temperature": "number", "top_p": "number", "top_k": "int",
    "min_p": "number", "seed": "int", "stop": "stop", "stop_token_ids": "ints", "presence_penalty": "number",
    "frequency_penalty": "number", "repetition_penalty": "number", "ignore_eos": "bool",
    "skip_special_tokens": "bool", "include_stop_str_in_output": "bool", "n": "one", "logprobs": "count",
}
# vLLM's SamplingParams field of structured output, and its kinds.
STRUCTURED, STRUCTURED_KINDS = "structured_outputs", ("json", "regex", "choice", "json_object")
# OpenAI body names of SamplingParams fields.
OPENAI_ALIASES = {"max_completion_tokens": "max_tokens"}
# Body fields that are not sampling parameters and that the run honours
# (model is echoed in the response; user is the caller's label;
# chat_template_kwargs is vLLM's extra field, merged over the job's).
BODY_FIELDS = {CHAT: {"messages", "model", "user", "stream", "chat_template_kwargs"},
               COMPLETIONS: {"prompt", "model", "user", "stream"}}
# Logprobs in the output (module docstring).
LOGPROBS = "logprobs"
# Why fields that OpenAI defines are refused.
NOT_YET = {
    "tools": "tool calls are not supported by the batch engine stage",
    "tool_choice": "tool calls are not supported by the batch engine stage",
    "echo": "echo is not supported by the batch engine stage",
    "best_of": "best_of is not supported by vLLM's V1 engine",
    "suffix": "suffix is not supported by vLLM",
}
# Internal column: what the postprocess and the OpenAI output need to know
# of the request (url, model, max_tokens, stop ids), as JSON.
REQUEST_COLUMN = "_rayvllm_request"
# Per-row request window (wall clock) for the engine_ metrics; not written.
ARRIVAL, FINISH = "_rayvllm_arrival", "_rayvllm_finish"
# ray.data.llm's per-row error message (ProcessorConfig.should_continue_on_error).
ERROR_COLUMN = "__inference_error__"
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
    if kind == "count" and isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v, None
    want = {"int": "an integer", "number": "a number", "bool": "true or false", "stop": "a string or a list of strings",
            "ints": "a list of integers", "one": "1 (ray.data.llm returns one choice per request)",
            "count": "a count of top tokens, 0 or more"}[kind]
    return None, f"must be {want}, got {json.dumps(v)}"


def sampling_from(fields, aliases=None):
    """(SamplingParams keyword arguments, problem or None) of a dict of
    sampling fields: the names in SAMPLING, or in aliases."""
    out = {}
    for name, v in fields.items():
        key = (aliases or {}).get(name, name)
        if key == STRUCTURED:
            if v is None:
                continue
            out[key], problem = structured(v)
            if problem:
                return None, f"field {name!r}: {problem}"
            continue
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


def structured(spec):
    """(vLLM StructuredOutputsParams keywords, normalized: every kind a key,
    the schema as JSON text; problem or None) of a structured output spec."""
    if not isinstance(spec, dict):
        return None, f"must be an object with one of {', '.join(STRUCTURED_KINDS)}, got {json.dumps(spec)}"
    extra = sorted(set(spec) - set(STRUCTURED_KINDS))
    if extra:
        return None, f"{extra[0]!r} is not a structured output kind; valid: {', '.join(STRUCTURED_KINDS)}"
    kinds = [k for k in STRUCTURED_KINDS if spec.get(k) is not None]
    if len(kinds) != 1:
        return None, f"set exactly one of {', '.join(STRUCTURED_KINDS)}, got {', '.join(kinds) or 'none'}"
    out = dict.fromkeys(STRUCTURED_KINDS)
    kind, v = kinds[0], spec[kinds[0]]
    if kind == "json":
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError as e:
                return None, f"json: the JSON schema does not parse ({e})"
        if not isinstance(v, (dict, bool)):
            return None, f"json: a JSON schema is an object (or true/false), got {json.dumps(v)}"
        out["json"] = json.dumps(v, separators=(",", ":"))
    elif kind == "regex":
        try:
            re.compile(v)
        except (re.error, TypeError) as e:
            return None, f"regex {json.dumps(v)} does not compile ({e})"
        out["regex"] = v
    elif kind == "choice":
        if not isinstance(v, list) or not v or not all(isinstance(c, str) for c in v):
            return None, f"choice must be a non-empty list of strings, got {json.dumps(v)}"
        out["choice"] = v
    elif v is not True:
        return None, f"json_object must be true, got {json.dumps(v)}"
    else:
        out["json_object"] = True
    return out, None


def _openai_structured(body):
    """The body with response_format (OpenAI) turned into vLLM's
    structured_outputs, or a problem."""
    rf = body.get("response_format")
    if rf is None:
        return body, None
    kind = rf.get("type") if isinstance(rf, dict) else None
    body = {k: v for k, v in body.items() if k != "response_format"}
    if kind == "text":
        return body, None
    if STRUCTURED in body:
        return None, "body fields 'response_format' and 'structured_outputs' both constrain the output; keep one"
    if kind == "json_object":
        return {**body, STRUCTURED: {"json_object": True}}, None
    schema = (rf.get("json_schema") or {}).get("schema") if kind == "json_schema" and isinstance(rf.get("json_schema"), dict) else None
    if schema is None:
        return None, ("body field 'response_format' must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or "
                      f"{{\"type\": \"json_schema\", \"json_schema\": {{\"schema\": ...}}}}, got {json.dumps(rf)}")
    return {**body, STRUCTURED: {"json": schema}}, None


def _openai_logprobs(body, url):
    """The body with OpenAI's logprobs fields as vLLM's logprobs count."""
    if url == CHAT:
        want, top = body.get("logprobs"), body.get("top_logprobs")
        body = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")}
        if want not in (None, True, False):
            return None, f"body field 'logprobs' must be true or false in a chat request, got {json.dumps(want)}"
        if top is not None and not want:
            return None, "body field 'top_logprobs' needs 'logprobs': true"
        if want:
            body["logprobs"] = 0 if top is None else top
    return body, None


def run_sampling_problem(sampling):
    """What is wrong with the job's own structured output or logprobs
    (None: nothing), checked at start."""
    if sampling.get(STRUCTURED) is not None:
        problem = structured(sampling[STRUCTURED])[1]
        if problem:
            return f"sampling_params.{STRUCTURED}: {problem}"
    lp = sampling.get(LOGPROBS)
    if lp is not None and _typed("count", lp)[1]:
        return f"sampling_params.logprobs must be a count of top tokens, 0 or more, got {lp!r}"
    return None


def count_structured(sampling):
    """How many rows' checked sampling fields (JSON text) set structured
    outputs: a key of the top object (json.dumps writes '"key": '; inside a
    value the quotes are escaped)."""
    return pc.sum(pc.match_substring(pc.fill_null(sampling, ""), f'"{STRUCTURED}": ')).as_py() or 0


def structured_mix(structured, rows, run_structured):
    """Refuses structured output on some requests only, without the run's
    default. Ray Data 2.60 joins blocks whose struct columns differ with
    pyarrow's StructArray.from_arrays, dropping the nulls of a row's
    missing struct (transform_pyarrow._backfill_missing_fields): a request
    without a constraint would get a zeroed one, e.g. json "" (tested in
    rayvllm_structured_test.py)."""
    if run_structured or structured in (0, rows):
        return None
    return (f"{structured} of {rows} requests set structured output and the others none: Ray Data (2.60) can give a request "
            "without one a corrupted constraint when it joins blocks. Give every request one, or set the job's "
            "sampling.structured_output as the default that requests override.")


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
        problem = message_problem(body.get("messages"))
        if problem:
            return None, f"body field 'messages': {problem}"
    elif not isinstance(body.get("prompt"), str):
        return None, "body field 'prompt' must be one string (a list of prompts is one request per line here)"
    if not isinstance(body.get("chat_template_kwargs", {}), dict):
        return None, "body field 'chat_template_kwargs' must be a JSON object"
    body, problem = _openai_structured(body)
    if problem is None:
        body, problem = _openai_logprobs(body, url)
    if problem:
        return None, problem
    fields = {k: v for k, v in body.items() if k not in BODY_FIELDS[url]}
    return sampling_from(fields, OPENAI_ALIASES)


def _as_list(v):
    return v if v is None or isinstance(v, (str, dict, list)) or not hasattr(v, "__iter__") else list(v)


def message_problem(msgs):
    """What keeps OpenAI chat messages from the engine, or None."""
    if not isinstance(msgs, list) or not msgs:
        return "must be a non-empty list of {role, content} objects"
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            return f"message {i} must be an object with a string role"
        content = m.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"message {i}: content must be a string or a list of content parts"
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                return (f"message {i}, content part {j}: only text parts {{\"type\": \"text\", \"text\": ...}} are supported, "
                        f"got type {json.dumps(kind)}; images and audio need Ray Data LLM's multimodal stage, which the built-in "
                        "run does not use yet")
    return None


def chat_messages(value):
    """OpenAI chat messages (a list, or its JSON text) as the chat template
    gets them: {role, content} with the text parts of a content list joined
    with a newline, as vLLM's server renders them for a template that takes a
    string (vllm/renderers/chat_utils.py, _parse_chat_message_content_parts
    with content format "string"). Other message keys (name, tool calls) are
    not passed. Raises ValueError with message_problem's text."""
    if isinstance(value, str):
        value = json.loads(value)
    msgs = _as_list(value)
    if isinstance(msgs, list):
        # Arrow gives a list column's cells as arrays of dicts.
        msgs = [{**m, "content": _as_list(m.get("content"))} if isinstance(m, dict) else m for m in msgs]
    problem = message_problem(msgs)
    if problem:
        raise ValueError(problem)
    out = []
    for m in msgs:
        content = m.get("content")
        if isinstance(content, list):
            content = "\n".join(part["text"] for part in content)
        out.append({"role": m["role"], "content": "" if content is None else content})
    return out


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
    if value.get(LOGPROBS) is not None:
        return None, "field 'logprobs': set sampling.logprobs for the whole run (it adds the logprobs output column to every row)"
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
        _DEFAULTS[STRUCTURED] = None
    return _DEFAULTS


def request_window(stats):
    """(arrival, last token) of one request in wall-clock seconds from vLLM's
    RequestStateStats as a dict; (0.0, 0.0) when they are missing."""
    try:
        arrival = float(stats["arrival_time"])
        finish = arrival + float(stats["first_token_latency"]) + float(stats["last_token_ts"]) - float(stats["first_token_ts"])
    except (KeyError, TypeError, ValueError):
        return 0.0, 0.0
    if arrival <= 0 or finish < arrival:
        return 0.0, 0.0
    return arrival, finish


_TOKENIZERS = {}


def tokenizer(model_source):
    if model_source not in _TOKENIZERS:
        from transformers import AutoTokenizer

        _TOKENIZERS[model_source] = AutoTokenizer.from_pretrained(model_source)
    return _TOKENIZERS[model_source]


def chat_prompt(model_source, messages, chat_template=None, chat_template_kwargs=None):
    """(prompt, token ids) of a chat request as vLLM's chat server makes
    them: the model's chat template with the generation prompt, tokenized
    without special tokens (the template carries its own BOS). Done here,
    not in ray.data.llm's chat template stage, because its engine stage
    tokenizes a text prompt with the special tokens (a second BOS) and
    passes no tokenization_kwargs to generate."""
    tok = tokenizer(model_source)
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, chat_template=chat_template,
                                   **(chat_template_kwargs or {}))
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


def token_logprobs(entries, tokens, count):
    """The logprobs column (module docstring) of the engine's per-token
    {token id: {logprob, rank, decoded_token}}, the generated tokens and
    the top-k count asked; None when the engine returned none. vLLM
    returns the top count tokens (rank 1..count) and the sampled one,
    whatever its rank."""
    if entries is None:
        return None
    out = []
    for entry, tid in zip(entries, tokens if tokens is not None else []):
        # Keys are token ids; Arrow may hand them back as strings.
        entry = {int(k): v for k, v in entry.items() if v is not None}
        own = entry.get(int(tid)) or {}
        top = sorted((v.get("rank") or 0, k, v) for k, v in entry.items() if 0 < (v.get("rank") or 0) <= count)
        out.append({"token": own.get("decoded_token") or "", "token_id": int(tid), "logprob": _float(own.get("logprob")),
                    "top_logprobs": [{"token": v.get("decoded_token") or "", "token_id": k, "logprob": _float(v.get("logprob"))}
                                     for _, k, v in top]})
    return out


def _float(v):
    """A logprob as JSON takes it: -inf (a token the structured output
    grammar masks) becomes -9999.0, as in vLLM's OpenAI server
    (entrypoints/openai/chat_completion/serving.py, completion/serving.py)."""
    return None if v is None else max(float(v), -9999.0)


def openai_logprobs(lp, url):
    """The OpenAI logprobs object of a choice from the logprobs column."""
    if lp is None:
        return None
    if url == CHAT:
        def item(t):
            return {"token": t["token"], "logprob": t["logprob"], "bytes": list(t["token"].encode())}

        return {"content": [{**item(t), "top_logprobs": [item(x) for x in t["top_logprobs"]]} for t in lp]}
    offsets, at = [], 0
    for t in lp:
        offsets.append(at)
        at += len(t["token"])
    return {"tokens": [t["token"] for t in lp], "token_logprobs": [t["logprob"] for t in lp],
            "top_logprobs": [{x["token"]: x["logprob"] for x in t["top_logprobs"]} for t in lp], "text_offset": offsets}


def _hash(s):
    return hashlib.blake2b(s.encode(), digest_size=12).hexdigest()


def response_line(row, created=None):
    """One OpenAI batch output line of an output row."""
    req = json.loads(row[REQUEST_COLUMN])
    cid, h = row["custom_id"], _hash(row["custom_id"])
    usage = {"prompt_tokens": row["num_input_tokens"], "completion_tokens": row["num_generated_tokens"],
             "total_tokens": row["num_input_tokens"] + row["num_generated_tokens"]}
    lp = json.loads(row[LOGPROBS]) if row.get(LOGPROBS) else None
    choice = {"index": 0, "logprobs": openai_logprobs(lp, req["url"]), "finish_reason": row[FINISH_REASON]}
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
