"""The engine as an OpenAI-compatible endpoint (vllm.endpoint) for the
built-in batch script (rayvllm_batch.py): instead of starting vLLM engines
on the cluster, every row goes as one request to a server that is already
running, such as a rayvllm_vllm_worker's route or any OpenAI-compatible
server, through ray.data.llm's HTTP processor (HttpRequestProcessorConfig:
its rate limit `qps`, its retries with exponential backoff on 408, 429,
502, 503, 504 and connection errors).

Rows become /v1/completions requests (prompt_column) or
/v1/chat/completions requests (messages_column, or prompt_column with
apply_chat_template): {"model": model_source, "prompt" | "messages",
<sampling fields>}, where the sampling fields are the job's sampling
(vLLM SamplingParams names, which vLLM's server takes as extra body
fields: min_tokens, top_k, structured_outputs, ...) overridden by the row's
sampling_params column. A chat request carries chat_template and
chat_template_kwargs when they are set.

The output columns come from the response (OpenAI's completion object):
generated_text is choices[0].text or choices[0].message.content,
finish_reason is choices[0].finish_reason, and the token counts are
usage.prompt_tokens and usage.completion_tokens. An error answer (a body
with "error", or vLLM's {"object": "error", "message": ...}) fails the run,
or with on_row_error = "skip" sends the row to the errors output with the
server's message. The engine_ metrics stay null: the server's request
timings are not in its answer.

Not with an endpoint (refused before anything runs): the OpenAI batch
format (its lines may name different URLs, and ray.data.llm's HTTP stage
posts to one) and logprobs (the server's logprobs carry no token ids, which
the logprobs column has).

ray.data.llm's HTTP stage sends a batch's requests one after another, and
each of its actors runs up to 4 batches at once (Ray Data's
DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY), so at most 4 x concurrency
requests are in flight: concurrency sets how hard the server is driven.
The actors reserve no CPU (they wait on the network): a cluster whose CPUs
hold the server, as a rayvllm_vllm_worker on the same cluster, still runs
the job's read and write tasks.
Its rate limit `qps` (an integer) holds per batch, so the job-wide
endpoint.max_requests_per_second L becomes qps = floor(L / (4 x
concurrency)), which needs L >= 4 x concurrency.
"""

import json
import os

from rayvllm_requests import ARRIVAL, ERROR_COLUMN, FINISH, FINISH_REASON, LOGPROBS

# Batches one HTTP-stage actor runs at once (Ray Data's
# DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY).
BATCHES_PER_ACTOR = 4
CHAT_PATH, COMPLETIONS_PATH = "/chat/completions", "/completions"
# Per-request timeout of the HTTP session (aiohttp's default is 5 minutes).
REQUEST_TIMEOUT_SECONDS = 600


def endpoint_problem(cfg):
    """What makes the configuration unusable with its endpoint, or None."""
    ep = cfg.get("endpoint")
    if not isinstance(ep, dict):
        return "endpoint must be a JSON object"
    url = ep.get("url") or ""
    if not url.startswith(("http://", "https://")):
        return f"endpoint.url must be an http:// or https:// URL, got {url!r}"
    if (cfg.get("input") or {}).get("format") == "openai_batch":
        return ("endpoint: input.format 'openai_batch' is not supported with an endpoint (ray.data.llm's HTTP stage "
                "posts every line to one URL): use the built-in engine, or columnar input")
    if (cfg.get("sampling_params") or {}).get(LOGPROBS) is not None:
        return "endpoint: sampling.logprobs is not supported with an endpoint (the server's logprobs carry no token ids)"
    if ep.get("max_retries") is not None and int(ep["max_retries"]) < 0:
        return f"endpoint.max_retries must be at least 0, got {ep['max_retries']}"
    rps, in_flight = ep.get("max_requests_per_second"), BATCHES_PER_ACTOR * int(cfg.get("concurrency") or 1)
    if rps is not None and int(rps) < in_flight:
        return (f"endpoint.max_requests_per_second = {rps} is below the {in_flight} requests in flight at concurrency = "
                f"{cfg.get('concurrency') or 1} ({BATCHES_PER_ACTOR} per HTTP actor): raise it, or lower concurrency")
    return None


def request_url(cfg, chat):
    """The one URL every request goes to: the endpoint's base URL (up to
    /v1) plus the chat or completions path."""
    return cfg["endpoint"]["url"].rstrip("/") + (CHAT_PATH if chat else COMPLETIONS_PATH)


def request_body(req, model, chat_template=None, chat_template_kwargs=None):
    """The OpenAI request body of one preprocessed row (rayvllm_batch's
    make_preprocess: prompt or messages, and sampling_params)."""
    body = {"model": model, **{k: v for k, v in (req.get("sampling_params") or {}).items() if v is not None}}
    if "messages" in req:
        body["messages"] = req["messages"]
        if chat_template:
            body["chat_template"] = chat_template
        if chat_template_kwargs:
            body["chat_template_kwargs"] = chat_template_kwargs
    else:
        body["prompt"] = req["prompt"]
    return body


def error_message(resp):
    """The server's error message in an answer, or None for a completion."""
    if not isinstance(resp, dict):
        return f"the answer is not a JSON object: {json.dumps(resp)[:500]}"
    err = resp.get("error")
    if err:
        return err.get("message") or json.dumps(err) if isinstance(err, dict) else str(err)
    if resp.get("object") == "error":
        return str(resp.get("message") or json.dumps(resp))
    if not resp.get("choices"):
        return f"the answer has no choices: {json.dumps(resp)[:500]}"
    return None


def response_columns(resp):
    """(generated_text, num_input_tokens, num_generated_tokens, finish_reason)
    of a completion answer."""
    choice = resp["choices"][0]
    text = choice.get("text")
    if text is None:
        text = (choice.get("message") or {}).get("content")
    usage = resp.get("usage") or {}
    return text or "", int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), choice.get("finish_reason")


class RowError(RuntimeError):
    """The endpoint answered a row with an error and on_row_error is fail."""


def make_session_factory(api_key_env_var):
    """An aiohttp session factory for the HTTP stage's actors. The API key is
    read from the job's environment in the actor, so that it is in neither
    the job's entrypoint nor the stage's arguments."""

    def factory():
        import aiohttp

        headers = {}
        if api_key_env_var:
            key = os.environ.get(api_key_env_var)
            if not key:
                raise RuntimeError(f"endpoint.api_key_env_var: the job has no environment variable {api_key_env_var!r} "
                                   "(set it in runtime_env.env_vars)")
            headers["Authorization"] = "Bearer " + key
        return aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))

    return factory


def build_endpoint_processor(cfg, preprocess, ids, keep, chat, sampling_column=None):
    """ray.data.llm's HTTP processor around preprocess (rayvllm_batch's
    make_preprocess, without per-row sampling: a row's sampling column,
    named by sampling_column, is merged here). keep are the columns copied
    to the output besides the identity columns ids."""
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    ep, inp = cfg["endpoint"], cfg["input"]
    model, skip = cfg["model_source"], cfg.get("on_row_error") == "skip"
    template, template_kwargs = inp.get("chat_template"), inp.get("chat_template_kwargs") or None

    def pre(row):
        req = preprocess(row)
        if sampling_column:
            req["sampling_params"] = {**req["sampling_params"], **json.loads(row[sampling_column])}
        out = {c: req[c] for c in (*ids, *keep)}
        out["payload"] = request_body(req, model, template, template_kwargs)
        return out

    def post(row):
        resp = row["http_response"]
        out = {c: row[c] for c in (*ids, *keep)}
        err = error_message(resp)
        if err and not skip:
            raise RowError(f"the endpoint answered row {', '.join(str(row[c]) for c in ids)} with an error: {err} "
                           "(on_row_error = \"skip\" writes such rows to the errors output instead)")
        text, n_in, n_out, finish = ("", 0, 0, None) if err else response_columns(resp)
        out.update({"generated_text": text, "num_input_tokens": n_in, "num_generated_tokens": n_out,
                    FINISH_REASON: finish, ARRIVAL: 0.0, FINISH: 0.0, ERROR_COLUMN: err or ""})
        return out

    kwargs = {"url": request_url(cfg, chat), "batch_size": cfg.get("batch_size") or 64,
              # The HTTP actors wait on the network, and concurrency caps
              # them: reserving a CPU each could leave no CPU for the read
              # and write tasks on a cluster that also runs the server.
              "http_request_stage": {"num_cpus": 0},
              "max_retries": 3 if ep.get("max_retries") is None else int(ep["max_retries"]),
              "session_factory": make_session_factory(ep.get("api_key_env_var"))}
    actors = int(cfg.get("concurrency") or 1)
    kwargs["concurrency"] = actors
    if ep.get("max_requests_per_second"):
        kwargs["qps"] = int(ep["max_requests_per_second"]) // (BATCHES_PER_ACTOR * actors)
    return build_processor(HttpRequestProcessorConfig(**kwargs), preprocess=pre, postprocess=post)
