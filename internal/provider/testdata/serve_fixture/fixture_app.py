"""Deterministic stand-in for an OpenAI-compatible vLLM app, for tests only.

It answers GET /v1/models and POST /v1/completions the same way every time,
without a GPU or vLLM, so that the rayvllm_vllm_worker acceptance tests and
the burst benchmark exercise Ray Serve itself: deploys, autoscaling,
back-pressure (HTTP 503 once max_queued_requests is reached) and routing.

Import path: fixture_app:build_app, with the application args
  model_id   (str)   the id /v1/models reports, default "fixture-model"
  delay_ms   (float) service time of one completion, default 0
"""

import asyncio
import hashlib
import json

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


def complete(prompt: str, max_tokens: int) -> str:
    # A pure function of the prompt: the first max_tokens words of a
    # sha256-seeded word stream.
    words = []
    seed = prompt.encode()
    while len(words) < max_tokens:
        seed = hashlib.sha256(seed).digest()
        words.extend("w%02x" % b for b in seed[:4])
    return " ".join(words[:max_tokens])


@serve.deployment(name="Fixture", ray_actor_options={"num_cpus": 0.1})
class Fixture:
    def __init__(self, model_id: str, delay_ms: float):
        self.model_id = model_id
        self.delay_s = delay_ms / 1000.0

    async def __call__(self, request: Request):
        path = request.url.path.rstrip("/")
        if request.method == "GET" and path.endswith("/v1/models"):
            return JSONResponse({"object": "list", "data": [{"id": self.model_id, "object": "model", "owned_by": "rayvllm-fixture"}]})
        if request.method == "POST" and path.endswith("/v1/completions"):
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                return JSONResponse({"error": {"message": "body is not JSON"}}, status_code=400)
            if body.get("model", self.model_id) != self.model_id:
                return JSONResponse({"error": {"message": "unknown model %r" % body.get("model")}}, status_code=404)
            prompt = str(body.get("prompt", ""))
            max_tokens = int(body.get("max_tokens", 8))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            text = complete(prompt, max_tokens)
            return JSONResponse({
                "object": "text_completion",
                "model": self.model_id,
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": max_tokens,
                          "total_tokens": len(prompt.split()) + max_tokens},
            })
        return JSONResponse({"error": {"message": "no route %s %s" % (request.method, path)}}, status_code=404)


def build_app(args: dict):
    return Fixture.bind(str(args.get("model_id", "fixture-model")), float(args.get("delay_ms", 0)))
