"""Structured output, logprobs and the chat template of per-row requests
(rayvllm_requests.py, rayvllm_batch.py), judged by vLLM's own request
types where it has one. No Ray cluster needed."""

import json
import pathlib
import sys

import pyarrow as pa
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import rayvllm_requests as rr  # noqa: E402

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}
MSGS = [{"role": "user", "content": "hi"}]


def chat(**body):
    return json.dumps({"custom_id": "a", "method": "POST", "url": rr.CHAT, "body": {"messages": MSGS, **body}})


@pytest.mark.parametrize("spec, want", [
    ({"json": SCHEMA}, {"json": json.dumps(SCHEMA, separators=(",", ":"))}),
    ({"json": json.dumps(SCHEMA)}, {"json": json.dumps(SCHEMA, separators=(",", ":"))}),
    ({"regex": r"\d{3}-[a-z]+"}, {"regex": r"\d{3}-[a-z]+"}),
    ({"choice": ["yes", "no"]}, {"choice": ["yes", "no"]}),
    ({"json_object": True}, {"json_object": True}),
])
def test_structured_is_what_vllm_takes(spec, want):
    from vllm.sampling_params import StructuredOutputsParams

    got, problem = rr.structured(spec)
    assert problem is None and got == {**dict.fromkeys(rr.STRUCTURED_KINDS), **want}
    # ray.data.llm's engine stage calls StructuredOutputsParams(**row value):
    # with every kind a key, vLLM must still see exactly one constraint.
    params = StructuredOutputsParams(**got)
    assert [k for k in rr.STRUCTURED_KINDS if getattr(params, k) is not None] == list(want)


@pytest.mark.parametrize("spec, message", [
    ({"json": "{not json"}, "the JSON schema does not parse"),
    ({"json": "[1]"}, "a JSON schema is an object"),
    ({"regex": "a(b"}, "does not compile"),
    ({"choice": []}, "choice must be a non-empty list of strings"),
    ({"choice": ["a", 1]}, "choice must be a non-empty list of strings"),
    ({"regex": "a", "choice": ["a"]}, "set exactly one of json, regex, choice, json_object, got regex, choice"),
    ({}, "got none"),
    ({"grammar": "x"}, "'grammar' is not a structured output kind"),
    ({"json_object": False}, "json_object must be true"),
    ("x", "must be an object"),
])
def test_bad_structured_is_refused(spec, message):
    got, problem = rr.structured(spec)
    assert got is None and message in problem


def test_rows_with_and_without_structured_reach_vllm_through_ray_data():
    """Every row carries structured_outputs (null or a struct of every
    kind): Ray Data stores the rows' sampling_params as one struct column.
    Within a block, through Ray Data's own Arrow-to-numpy batch conversion
    (what the engine stage gets) and the engine stage's own steps, vLLM
    sees each row's (across blocks: the next test)."""
    from ray.data.block import BlockAccessor
    from ray.llm._internal.batch.stages.common import maybe_convert_ndarray_to_list
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    specs = [None, {"choice": ["a", "b"]}, {"json": SCHEMA}, {"regex": "[0-9]+"}]
    rows = [{"max_tokens": 3, "stop": None, rr.STRUCTURED: s and rr.structured(s)[0]} for s in specs]
    t = pa.Table.from_pylist([{"__data": {"sampling_params": r, "prompt": "p"}} for r in rows])
    for spec, row in zip(specs, BlockAccessor.for_block(t).to_batch_format("numpy")["__data"].tolist()):
        # vllm_engine_stage.py, vLLMEngineWrapper._prepare_llm_request:
        sp = row.pop("sampling_params")
        cfg = maybe_convert_ndarray_to_list(sp.pop(rr.STRUCTURED)) if rr.STRUCTURED in sp else None
        params = SamplingParams(**maybe_convert_ndarray_to_list(sp), structured_outputs=StructuredOutputsParams(**cfg) if cfg else None)
        so = params.structured_outputs
        if spec is None:
            assert so is None
        else:
            (kind, value), = spec.items()
            got = getattr(so, kind)
            assert (json.loads(got) if kind == "json" else got) == value


def vllm_params(body, url=rr.CHAT):
    """vLLM's own SamplingParams of an OpenAI request body: the oracle."""
    if url == rr.CHAT:
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest as Req
    else:
        from vllm.entrypoints.openai.completion.protocol import CompletionRequest as Req
    return Req(model="m", **body).to_sampling_params(max_tokens=16, default_sampling_params={})


@pytest.mark.parametrize("extra", [
    {"response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA}}},
    {"response_format": {"type": "json_object"}},
    {"structured_outputs": {"regex": "[ab]+"}},
    {"structured_outputs": {"choice": ["x", "y"]}},
    {"logprobs": True, "top_logprobs": 3},
    {"logprobs": True},
    {"response_format": {"type": "text"}},
])
def test_chat_body_matches_vllm_server(extra):
    *_, sampling, problem = rr.parse_line(chat(**extra))
    assert problem is None
    ours, theirs = json.loads(sampling), vllm_params({"messages": MSGS, **extra})
    assert ours.get("logprobs") == theirs.logprobs
    so = ours.get(rr.STRUCTURED)
    if theirs.structured_outputs is None:
        assert so is None
        return
    for kind in rr.STRUCTURED_KINDS:
        want = getattr(theirs.structured_outputs, kind)
        got = so[kind]
        if kind == "json" and want is not None:
            got, want = json.loads(got), want if isinstance(want, dict) else json.loads(want)
        assert got == want, kind


def test_completions_logprobs_matches_vllm_server():
    line = json.dumps({"custom_id": "a", "url": rr.COMPLETIONS, "body": {"prompt": "p", "logprobs": 2}})
    *_, sampling, problem = rr.parse_line(line)
    assert problem is None and json.loads(sampling)["logprobs"] == vllm_params({"prompt": "p", "logprobs": 2}, rr.COMPLETIONS).logprobs


@pytest.mark.parametrize("extra, message", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "p"}}}, "body field 'response_format' must be"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}, "structured_outputs": {"regex": "a"}},
     "keep one"),
    ({"structured_outputs": {"regex": "a("}}, "field 'structured_outputs': regex \"a(\" does not compile"),
    ({"structured_outputs": {"choice": []}}, "choice must be a non-empty list"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": "{bad"}}}, "does not parse"),
    ({"top_logprobs": 2}, "'top_logprobs' needs 'logprobs': true"),
    ({"logprobs": 2}, "'logprobs' must be true or false"),
    ({"chat_template_kwargs": [1]}, "'chat_template_kwargs' must be a JSON object"),
])
def test_bad_chat_bodies_name_the_field(extra, message):
    *_, problem = rr.parse_line(chat(**extra))
    assert problem is not None and message in problem


def test_sampling_column_structured_and_logprobs():
    got, problem = rr.sampling_column({"max_tokens": 4, "structured_outputs": {"choice": ["a", "b"]}})
    assert problem is None and json.loads(got)[rr.STRUCTURED]["choice"] == ["a", "b"]
    got, problem = rr.sampling_column('{"structured_outputs": {"json": "{oops"}}')
    assert got is None and "field 'structured_outputs': json: the JSON schema does not parse" in problem
    got, problem = rr.sampling_column({"logprobs": 2})
    assert got is None and "set sampling.logprobs for the whole run" in problem


def engine_logprobs(steps):
    """The engine stage's logprobs of a generation: vLLM Logprob objects
    through ray.data.llm's own converter."""
    from ray.llm._internal.batch.stages.vllm_engine_stage import _convert_logprob_dict
    from vllm.logprobs import Logprob

    return [_convert_logprob_dict({tid: Logprob(logprob=lp, rank=rank, decoded_token=tok) for tid, (lp, rank, tok) in s.items()})
            for s in steps]


def test_logprobs_column_and_openai_objects():
    # Top-2: the first token was sampled at rank 1, the second at rank 3
    # (vLLM adds the sampled token beside the top 2).
    steps = engine_logprobs([{5: (-0.1, 1, "He"), 6: (-2.5, 2, "Hi")},
                             {7: (-3.0, 3, "llo"), 8: (-0.2, 1, "y"), 9: (-1.9, 2, "!")}])
    lp = rr.token_logprobs(steps, [5, 7], 2)
    assert [(t["token"], t["token_id"], t["logprob"]) for t in lp] == [("He", 5, -0.1), ("llo", 7, -3.0)]
    assert [[x["token"] for x in t["top_logprobs"]] for t in lp] == [["He", "Hi"], ["y", "!"]]
    assert rr.token_logprobs(None, [5], 2) is None
    c = rr.openai_logprobs(lp, rr.CHAT)["content"]
    assert c[1] == {"token": "llo", "logprob": -3.0, "bytes": list(b"llo"),
                    "top_logprobs": [{"token": "y", "logprob": -0.2, "bytes": [121]}, {"token": "!", "logprob": -1.9, "bytes": [33]}]}
    t = rr.openai_logprobs(lp, rr.COMPLETIONS)
    assert t == {"tokens": ["He", "llo"], "token_logprobs": [-0.1, -3.0], "top_logprobs": [{"He": -0.1, "Hi": -2.5}, {"y": -0.2, "!": -1.9}],
                 "text_offset": [0, 2]}
    # The OpenAI types that clients parse these with accept them.
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionLogProbs
    ChatCompletionLogProbs(content=c)


def test_masked_token_logprob_is_valid_json():
    # Under a grammar the engine returns -inf for a masked top token (seen
    # with the tiny model in TestAccBatchJob_structuredOutput); JSON has no
    # -Infinity, so it is vLLM's server's floor.
    lp = rr.token_logprobs(engine_logprobs([{93: (0.0, 1, "{"), 0: (float("-inf"), 2, "<pad>")}]), [93], 2)
    assert json.loads(json.dumps(lp, allow_nan=False))[0]["top_logprobs"][1]["logprob"] == -9999.0


def test_response_line_carries_logprobs():
    lp = rr.token_logprobs(engine_logprobs([{5: (-0.1, 1, "He")}]), [5], 1)
    req = json.dumps({"url": rr.CHAT, "model": "m"})
    t = pa.table({"custom_id": ["a"], rr.REQUEST_COLUMN: [req], "generated_text": ["He"], "num_input_tokens": [3],
                  "num_generated_tokens": [1], "finish_reason": ["length"], rr.LOGPROBS: [json.dumps(lp)]})
    (got,) = [json.loads(s) for s in rr.encode_openai(t).decode().splitlines()]
    assert got["response"]["body"]["choices"][0]["logprobs"]["content"][0]["token"] == "He"


def test_chat_prompt_takes_template_and_kwargs(monkeypatch):
    seen = {}

    class Tok:
        def apply_chat_template(self, messages, **kw):
            seen.update(kw)
            return "T"

        def encode(self, text, add_special_tokens):
            return [1]

    monkeypatch.setitem(rr._TOKENIZERS, "m", Tok())
    assert rr.chat_prompt("m", MSGS, "{{ x }}", {"enable_thinking": False}) == ("T", [1])
    assert seen["chat_template"] == "{{ x }}" and seen["enable_thinking"] is False


# The batch script's side (rayvllm_batch.py): config, processor, rows.

def job(**kw):
    cfg = {"model_source": "m", "input": {"path": "/in.jsonl", "format": "jsonl", "prompt_column": "p"},
           "output": {"path": "/out", "format": "jsonl"}, "sampling_params": {"max_tokens": 4}}
    for k, v in kw.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and k in cfg else v
    return cfg


@pytest.mark.parametrize("change, message", [
    ({"sampling_params": {"structured_outputs": {"regex": "(("}}}, "sampling_params.structured_outputs: regex"),
    ({"sampling_params": {"structured_outputs": {"choice": []}}}, "choice must be a non-empty list"),
    ({"sampling_params": {"logprobs": -1}}, "sampling_params.logprobs must be a count"),
    ({"input": {"apply_chat_template": False, "chat_template": "{{ x }}"}}, "input.chat_template and input.chat_template_kwargs need chat input"),
    ({"input": {"chat_template_kwargs": [1]}}, "input.chat_template_kwargs must be a JSON object"),
    ({"sampling_params": {"logprobs": 1}, "output": {"passthrough_columns": ["logprobs"]}}, "logprobs is already an output column"),
])
def test_validate_refuses_at_start(change, message):
    import rayvllm_batch as rb

    with pytest.raises(rb.ConfigError, match=message.replace("(", r"\(")):
        rb.validate(job(**change))


@pytest.mark.usefixtures("ray_module")
def test_chat_template_reaches_ray_data_llm_chat_stage(monkeypatch):
    """Ray Data LLM's own processor builder is the judge: its chat template
    stage is built with our template and kwargs. The builder calls
    ray.init(), which refuses the test env's RAY_ADDRESS (the dashboard's
    HTTP address, for job submission); Ray is already connected here."""
    import rayvllm_batch as rb

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    cfg = job(input={"chat_template": "{{ messages[0]['content'] }}", "chat_template_kwargs": {"enable_thinking": False}})
    rb.validate(cfg)
    proc = build_processor(vLLMEngineProcessorConfig(**rb.processor_config_kwargs(cfg)))
    (stage,) = [s for s in proc.stages.values() if type(s).__name__ == "ChatTemplateStage"]
    assert stage.fn_constructor_kwargs["chat_template"] == "{{ messages[0]['content'] }}"
    assert stage.fn_constructor_kwargs["chat_template_kwargs"] == {"enable_thinking": False}
    plain = rb.processor_config_kwargs(job())
    assert plain["chat_template_stage"] is True


def test_rows_carry_structured_output_and_logprobs():
    import rayvllm_batch as rb

    cfg = job(sampling_params={"structured_outputs": {"json": json.dumps(SCHEMA)}, "logprobs": 1})
    rb.validate(cfg)
    req = rb.make_preprocess(cfg)({"p": "x", "input_file": "f", "input_row": 0})
    so = req["sampling_params"][rr.STRUCTURED]
    assert json.loads(so["json"]) == SCHEMA and so["regex"] is None and req["sampling_params"]["logprobs"] == 1
    row = {"input_file": "f", "input_row": 0, "generated_text": "{}", "num_input_tokens": 2, "num_generated_tokens": 1,
           "generated_tokens": [5], "logprobs": engine_logprobs([{5: (-0.5, 1, "{}")}])}
    # The engine stage's output rows as Ray Data hands them on (int-keyed
    # dicts do not fit Arrow: Ray Data pickles the column).
    from ray.data.block import BlockAccessor

    block = BlockAccessor.batch_to_block({"__data": [row]})
    row = BlockAccessor.for_block(block).to_batch_format("numpy")["__data"].tolist()[0]
    out = rb.make_postprocess(cfg)(row)
    assert json.loads(out[rr.LOGPROBS])[0] == {"token": "{}", "token_id": 5, "logprob": -0.5,
                                                "top_logprobs": [{"token": "{}", "token_id": 5, "logprob": -0.5}]}
    assert rr.LOGPROBS not in rb.make_postprocess(job())(row), "no logprobs column unless asked"


def test_go_rendered_config_reaches_vllm():
    """The Go renderer's golden config (testdata/golden_config.json) with
    structured output, logprobs and a chat template: Ray Data LLM's config
    takes the chat template stage, and vLLM's SamplingParams the row's."""
    import rayvllm_batch as rb
    from ray.data.llm import vLLMEngineProcessorConfig
    from ray.llm._internal.batch.stages.configs import ChatTemplateStageConfig, resolve_stage_config
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    golden = json.loads((pathlib.Path(__file__).parent / "testdata" / "golden_config.json").read_text())
    rb.validate(golden)
    pc = vLLMEngineProcessorConfig(**rb.processor_config_kwargs(golden))
    stage = resolve_stage_config(pc.chat_template_stage, ChatTemplateStageConfig)
    assert stage.enabled and stage.chat_template == golden["input"]["chat_template"]
    assert stage.chat_template_kwargs == {"enable_thinking": False}
    sp = dict(rb.make_preprocess(golden)({"request_id": "r", "messages": MSGS})["sampling_params"])
    # What ray.data.llm's engine stage does with a row's sampling_params.
    so = StructuredOutputsParams(**sp.pop(rr.STRUCTURED))
    params = SamplingParams(**sp, structured_outputs=so)
    assert json.loads(params.structured_outputs.json) == json.loads(golden["sampling_params"]["structured_outputs"]["json"])
    assert params.logprobs == 2


def ray_join(blocks):
    """Rows' sampling_params after Ray Data joins the blocks for a batch."""
    from ray.data._internal.arrow_ops.transform_pyarrow import concat
    from ray.data.block import BlockAccessor

    t = concat([pa.Table.from_pylist([{"sampling_params": r} for r in b]) for b in blocks])
    return BlockAccessor.for_block(t).to_batch_format("numpy")["sampling_params"].tolist()


def test_ray_data_corrupts_a_missing_struct_so_mixes_are_refused():
    """Why structured_mix refuses some-but-not-all: in Ray Data 2.60 the
    row without a constraint comes out with json "" (vLLM would constrain
    it). When this fails, Ray Data has fixed it and the refusal can go."""
    so = rr.structured
    blocks = [[{"m": 1, rr.STRUCTURED: so({"regex": "b"})[0]}],
              [{"m": 1, rr.STRUCTURED: so({"json": "{}"})[0]}, {"m": 2, rr.STRUCTURED: None}]]
    assert ray_join(blocks)[2][rr.STRUCTURED]["json"] == "", "Ray Data no longer corrupts the missing struct"
    # Every row with one (the run's default, overridden per row): intact.
    blocks[1][1][rr.STRUCTURED] = so({"choice": ["x"]})[0]
    got = ray_join(blocks)
    assert [r[rr.STRUCTURED]["regex"] for r in got] == ["b", None, None] and list(got[2][rr.STRUCTURED]["choice"]) == ["x"]
    rows = pa.array([json.dumps({"max_tokens": 2, rr.STRUCTURED: so({"regex": "a"})[0]}), json.dumps({"max_tokens": 2}),
                     json.dumps({rr.STRUCTURED: so({"json": {"description": '"structured_outputs": '}})[0]}), None])
    assert rr.count_structured(rows) == 2, "a key inside a schema is escaped and does not count"
    assert rr.structured_mix(2, 4, False).startswith("2 of 4 requests set structured output and the others none")
    assert rr.structured_mix(2, 4, True) is None and rr.structured_mix(4, 4, False) is None and rr.structured_mix(0, 4, False) is None
