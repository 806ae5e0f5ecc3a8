"""The endpoint engine's requests and answers (rayvllm_endpoint.py). The
request bodies are judged by vLLM's own server models (its OpenAI request
classes and their to_sampling_params); the end-to-end run against a real
server is TestAccVLLMWorkerE2E_tinyModelOnCPU."""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import rayvllm_batch as rb  # noqa: E402
import rayvllm_endpoint as re_  # noqa: E402


def vllm_request(body, chat):
    """vLLM's server request of body and its SamplingParams: the oracle. The
    server passes to_sampling_params the request's own max_tokens (capped
    by the context, which is not reached here)."""
    if chat:
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest as Req
    else:
        from vllm.entrypoints.openai.completion.protocol import CompletionRequest as Req
    r = Req(**body)
    return r, r.to_sampling_params(max_tokens=getattr(r, "max_completion_tokens", None) or r.max_tokens,
                                   default_sampling_params={})


def cfg(**kw):
    c = {"model_source": "tiny", "endpoint": {"url": "http://127.0.0.1:8000/app/v1"},
         "input": {"path": "/in.jsonl", "format": "jsonl", "id_column": "id", "prompt_column": "p",
                   "apply_chat_template": False},
         "output": {"path": "/out", "format": "jsonl"},
         "sampling_params": {"max_tokens": 6, "min_tokens": 6, "temperature": 0, "seed": 1, "stop": ["\n\n"]}}
    c.update(kw)
    return c


@pytest.mark.parametrize("chat", [False, True])
def test_request_body_is_what_vllm_server_takes(chat):
    c = cfg(input={**cfg()["input"], "apply_chat_template": chat},
            sampling_params={**cfg()["sampling_params"], rb.STRUCTURED: {"json": None, "regex": "[ab]+", "choice": None}})
    req = rb.make_preprocess(c)({"id": 3, "p": "hello"})
    body = re_.request_body(req, "tiny", "{{ messages }}" if chat else None, {"enable_thinking": False} if chat else None)
    assert ("messages" in body) == chat and body["model"] == "tiny"
    assert re_.request_url(c, chat) == "http://127.0.0.1:8000/app/v1" + ("/chat/completions" if chat else "/completions")
    r, theirs = vllm_request(body, chat)
    assert r.model == "tiny" and (r.messages if chat else r.prompt) == (req["messages"] if chat else "hello")
    if chat:
        assert (r.chat_template, r.chat_template_kwargs) == ("{{ messages }}", {"enable_thinking": False})
    assert (theirs.max_tokens, theirs.min_tokens, theirs.temperature, theirs.seed, theirs.stop) == (6, 6, 0.0, 1, ["\n\n"])
    assert theirs.structured_outputs.regex == "[ab]+"


@pytest.mark.parametrize("resp, want", [
    ({"object": "text_completion", "choices": [{"text": " a b", "finish_reason": "length"}],
      "usage": {"prompt_tokens": 4, "completion_tokens": 2}}, (" a b", 4, 2, "length")),
    ({"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 9, "completion_tokens": 1}}, ("hi", 9, 1, "stop")),
])
def test_response_columns(resp, want):
    assert re_.error_message(resp) is None
    assert re_.response_columns(resp) == want


@pytest.mark.parametrize("resp, want", [
    ({"error": {"message": "This model's maximum context length is 512 tokens", "code": 400}}, "maximum context length"),
    ({"object": "error", "message": "bad request", "code": 400}, "bad request"),
    ({"error": "rate limited"}, "rate limited"),
    ({"object": "text_completion", "choices": []}, "no choices"),
    ([1, 2], "not a JSON object"),
])
def test_error_answers(resp, want):
    assert want in re_.error_message(resp)


@pytest.mark.parametrize("change, message", [
    ({"endpoint": {"url": "127.0.0.1:8000/v1"}}, "endpoint.url must be an http:// or https:// URL"),
    ({"input": {"path": "/in.jsonl", "format": "openai_batch"}}, "'openai_batch' is not supported with an endpoint"),
    ({"sampling_params": {"max_tokens": 4, "logprobs": 2}}, "sampling.logprobs is not supported"),
    ({"endpoint": {"url": "http://h/v1", "max_requests_per_second": 7}, "concurrency": 2},
     "max_requests_per_second = 7 is below the 8 requests in flight"),
])
def test_refused_before_anything_runs(change, message):
    with pytest.raises(rb.ConfigError, match=message):
        rb.validate(cfg(**change))
