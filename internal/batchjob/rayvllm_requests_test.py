"""Parsing and checking of per-row requests (rayvllm_requests.py): no Ray
needed."""

import json
import pathlib
import re
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import rayvllm_requests as rr  # noqa: E402


def line(**kw):
    req = {"custom_id": "a", "method": "POST", "url": rr.CHAT,
           "body": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}}
    req.update(kw)
    return json.dumps(req)


def test_chat_line_sampling_fields_are_mapped():
    body = {"messages": [{"role": "user", "content": "hi"}], "model": "m", "max_completion_tokens": 7, "temperature": 0,
            "top_p": 0.5, "stop": "x", "seed": 3, "n": 1, "presence_penalty": 0.1, "frequency_penalty": 0.2}
    cid, url, b, sampling, problem = rr.parse_line(line(body=body))
    assert problem is None and (cid, url) == ("a", rr.CHAT) and json.loads(b) == body
    assert json.loads(sampling) == {"max_tokens": 7, "temperature": 0.0, "top_p": 0.5, "stop": ["x"], "seed": 3,
                                    "presence_penalty": 0.1, "frequency_penalty": 0.2}


@pytest.mark.parametrize("req, message", [
    ({"body": {"messages": [{"role": "user", "content": "hi"}], "tools": []}}, "field 'tools': tool calls"),
    ({"body": {"messages": [{"role": "user", "content": "hi"}], "n": 2}}, "field 'n' must be 1"),
    ({"body": {"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}}, "field 'temperature' must be a number"),
    ({"body": {"messages": [{"role": "user", "content": "hi"}], "frobnicate": 1}}, "field 'frobnicate': not a sampling parameter"),
    ({"body": {"messages": [{"role": "user", "content": "hi"}], "stream": True}}, "cannot stream"),
    ({"body": {"messages": []}}, "'messages': must be a non-empty list"),
    ({"url": rr.COMPLETIONS, "body": {"prompt": ["a", "b"]}}, "'prompt' must be one string"),
    ({"url": "/v1/embeddings"}, "is not supported; valid: /v1/chat/completions, /v1/completions"),
    ({"method": "GET"}, "method must be POST"),
    ({"custom_id": 7}, "custom_id must be a non-empty string"),
    ({"extra": 1}, "field 'extra' is not part of a batch request"),
])
def test_bad_lines_name_the_field(req, message):
    *_, problem = rr.parse_line(line(**req))
    assert problem is not None and message in problem


def test_not_json():
    assert "not JSON" in rr.parse_line("{oops")[-1]


@pytest.mark.parametrize("cell, want, problem", [
    (None, {}, None),
    ('{"max_tokens": 2, "stop": ["."]}', {"max_tokens": 2, "stop": ["."]}, None),
    ({"max_tokens": 2, "seed": None}, {"max_tokens": 2}, None),
    ('{"max_tokens": 1.5}', None, "field 'max_tokens' must be an integer"),
    ("[1]", None, "must be a JSON object"),
    ('{"max_completion_tokens": 2}', None, "field 'max_completion_tokens'"),
])
def test_sampling_column(cell, want, problem):
    got, p = rr.sampling_column(cell)
    if problem:
        assert got is None and problem in p
    else:
        assert p is None and json.loads(got) == want


def test_finish_reason_follows_vllm_check_stop(monkeypatch):
    monkeypatch.setitem(rr._EOS, "m", {2})
    req = {"max_tokens": 4}
    assert rr.finish_reason([5, 6, 7, 8], 3, 4, req, None, "m") == "length"
    assert rr.finish_reason([5, 6, 7, 2], 3, 4, req, None, "m") == "stop", "EOS is checked before the length cap"
    assert rr.finish_reason([5, 6, 7, 2], 3, 4, {**req, "ignore_eos": True}, None, "m") == "length"
    assert rr.finish_reason([5, 9], 3, 2, {**req, "stop_token_ids": [9]}, None, "m") == "stop"
    assert rr.finish_reason([5, 6], 3, 2, req, None, "m") == "stop", "a stop string"
    assert rr.finish_reason([5, 6], 3, 2, {"max_tokens": None}, 5, "m") == "length", "the context is full"


def test_response_and_error_lines():
    import pyarrow as pa

    req = json.dumps({"url": rr.COMPLETIONS, "model": "m"})
    t = pa.table({"custom_id": ["a"], rr.REQUEST_COLUMN: [req], "generated_text": ["x y"], "num_input_tokens": [3],
                  "num_generated_tokens": [2], "finish_reason": ["length"]})
    (got,) = [json.loads(s) for s in rr.encode_openai(t).decode().splitlines()]
    body = got["response"]["body"]
    assert got["custom_id"] == "a" and got["error"] is None and got["response"]["status_code"] == 200
    assert body["object"] == "text_completion" and body["model"] == "m"
    assert body["choices"][0]["text"] == "x y" and body["choices"][0]["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    err = json.loads(rr.encode_openai(pa.table({"custom_id": ["b"], "error": ["boom"]})))
    assert err["response"] is None and err["error"]["message"] == "boom" and err["custom_id"] == "b"


def test_text_content_parts_are_joined_as_vllm_server_does():
    parts = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": parts}, {"role": "assistant", "content": None}]
    assert rr.chat_messages(msgs) == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first\nsecond"},
                                      {"role": "assistant", "content": ""}]
    assert rr.chat_messages(json.dumps(msgs)) == rr.chat_messages(msgs)


@pytest.mark.parametrize("msgs, message", [
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
     'message 0, content part 0: only text parts {"type": "text", "text": ...} are supported, got type "image_url"'),
    ([{"role": "user", "content": [{"type": "text"}]}], "content part 0: only text parts"),
    ([{"role": "user", "content": 3}], "message 0: content must be a string or a list of content parts"),
    ([{"content": "hi"}], "message 0 must be an object with a string role"),
    ([], "must be a non-empty list"),
])
def test_messages_that_cannot_reach_the_engine(msgs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        rr.chat_messages(msgs)
    *_, problem = rr.parse_line(line(body={"messages": msgs}))
    assert problem == "body field 'messages': " + rr.message_problem(msgs)
