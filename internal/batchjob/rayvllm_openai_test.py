"""The OpenAI batch format and per-row requests through the whole Ray Data
pipeline, with the stand-in engine (rayvllm_batch_test.py's fixture)."""

import json

import pytest

from rayvllm_batch_test import config, fake_build_processor, rb, write_input  # noqa: F401

pytestmark = pytest.mark.usefixtures("ray_module")


@pytest.fixture(autouse=True)
def no_tokenizer(monkeypatch):
    """The stand-in model has no tokenizer: a chat line's prompt is its
    contents, untokenized (the stand-in counts words)."""
    monkeypatch.setattr(rb, "chat_prompt", lambda model, msgs, *_template: (" ".join(m["content"] for m in msgs), None))


def openai_config(tmp_path, lines):
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" if not isinstance(line, str) else line + "\n" for line in lines))
    return {
        "model_source": "tiny",
        "engine_kwargs": {"max_model_len": 2048},
        "input": {"path": str(path), "format": "openai_batch"},
        "output": {"path": str(tmp_path / "out"), "format": "openai_batch"},
        "sampling_params": {"temperature": 0.0},
    }


def chat(cid, text, **body):
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
            "body": {"messages": [{"role": "user", "content": text}], **body}}


def read_lines(cfg):
    out = rb.read_table(cfg["output"]["path"], "jsonl").take_all()
    return {r["custom_id"]: r for r in out}


def test_openai_batch_in_and_out(tmp_path):
    cfg = openai_config(tmp_path, [chat("a", "one two three", max_tokens=2), "", chat("b", "four five", max_tokens=50)])
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    out = read_lines(cfg)
    assert sorted(out) == ["a", "b"] and metrics["rows"] == 2
    a, b = (out[k]["response"]["body"] for k in "ab")
    assert a["object"] == "chat.completion" and a["model"] == "tiny"
    # Per-row max_tokens: the stand-in cuts its answer "chat: <words>" there.
    assert a["choices"][0]["message"]["content"] == "prompt: one" and a["choices"][0]["finish_reason"] == "length"
    assert b["choices"][0]["message"]["content"] == "prompt: four five" and b["choices"][0]["finish_reason"] == "stop"
    assert a["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}

    # Resume reads the committed custom_ids back: nothing runs twice.
    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["skipped_rows"]) == (0, 2)


def test_unsupported_body_fields_are_refused_with_the_line(tmp_path):
    cfg = openai_config(tmp_path, [chat("a", "x"), chat("b", "y", tools=[{"type": "function"}]), chat("c", "z", n=3)])
    with pytest.raises(rb.InputError, match=r"2 request\(s\) the engine cannot honour.*line 2: field 'tools'.*line 3: field 'n'"):
        rb.run(cfg, build_processor=fake_build_processor)
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_duplicate_custom_ids_are_refused(tmp_path):
    cfg = openai_config(tmp_path, [chat("a", "x"), chat("a", "y")])
    with pytest.raises(rb.InputError, match="custom_id: 1 id.*more than once"):
        rb.run(cfg, build_processor=fake_build_processor)


def test_chat_and_completions_lines_in_one_file(tmp_path):
    comp = {"custom_id": "c", "url": "/v1/completions", "body": {"prompt": "p q", "max_tokens": 9}}
    cfg = openai_config(tmp_path, [chat("a", "x y"), comp])
    rb.run(cfg, build_processor=fake_build_processor)
    out = read_lines(cfg)
    assert out["c"]["response"]["body"]["object"] == "text_completion"
    assert out["c"]["response"]["body"]["choices"][0]["text"] == "prompt: p q"
    assert out["a"]["response"]["body"]["object"] == "chat.completion"


def test_sampling_params_column_and_passthrough(tmp_path):
    cfg = config(tmp_path, "jsonl", sampling_params_column="sp", apply_chat_template=False)
    cfg["output"]["passthrough_columns"] = ["lang"]
    rows = [{"id": 1, "prompt": "a b c d", "sp": {"max_tokens": 2}, "lang": "en"},
            {"id": 2, "prompt": "e f", "sp": None, "lang": "fr"},
            {"id": 3, "prompt": "g", "sp": {"max_tokens": 1}, "lang": "de"}]
    write_input(cfg["input"]["path"], "jsonl", rows)
    rb.run(cfg, build_processor=fake_build_processor)
    out = {int(r["id"]): r for r in rb.read_table(cfg["output"]["path"], "jsonl").take_all()}
    assert out[1]["generated_text"] == "prompt: a" and out[1]["finish_reason"] == "length"
    assert out[2]["generated_text"] == "prompt: e f" and out[2]["finish_reason"] == "stop"  # the block's max_tokens 64
    assert out[3]["generated_text"] == "prompt:" and out[3]["num_generated_tokens"] == 1
    assert [out[i]["lang"] for i in (1, 2, 3)] == ["en", "fr", "de"]
    assert set(out[1]) == {"id", "lang", "generated_text", "num_input_tokens", "num_generated_tokens", "finish_reason"}


def test_bad_sampling_params_cell_is_refused_before_the_engine(tmp_path):
    cfg = config(tmp_path, "csv", sampling_params_column="sp")
    write_input(cfg["input"]["path"], "csv", [{"id": 1, "prompt": "a", "sp": '{"temprature": 0}'}])
    with pytest.raises(rb.InputError, match=r"input.csv row 0: input.sampling_params_column 'sp': field 'temprature'"):
        rb.run(cfg, build_processor=fake_build_processor)


@pytest.mark.parametrize("change, message", [
    ({"input": {"format": "openai_batch", "prompt_column": "p"}}, "input.prompt_column cannot be set"),
    ({"input": {"format": "openai_batch", "id_column": "x"}}, "identifies rows by custom_id"),
    ({"output": {"format": "openai_batch"}}, "needs input.format 'openai_batch'"),
    ({"output": {"passthrough_columns": ["generated_text"]}}, "already an output column"),
])
def test_validate_openai(tmp_path, change, message):
    cfg = config(tmp_path, "jsonl")
    for section, values in change.items():
        cfg[section].update(values)
        if values.get("format") == "openai_batch" and section == "input":
            cfg["input"].pop("prompt_column") if "prompt_column" not in values else None
            cfg["input"].pop("id_column") if "id_column" not in values else None
    with pytest.raises(rb.ConfigError, match=message):
        rb.validate(cfg)
