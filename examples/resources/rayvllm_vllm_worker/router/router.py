"""The example's router (import_path "router:build_app"): a Ray Serve
deployment that forwards OpenAI-style completion requests to the vLLM
worker's endpoint (args_json's upstream)."""

import asyncio
import json
import urllib.request

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment
class Router:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")

    def _post(self, path: str, body: bytes) -> dict:
        req = urllib.request.Request(self.upstream + path, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - the worker's own endpoint
            return json.load(resp)

    async def __call__(self, request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(await asyncio.to_thread(self._post, request.url.path, body))


def build_app(args: dict):
    return Router.bind(args["upstream"])
