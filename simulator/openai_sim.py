"""A local OpenAI-compatible server (``shelfwatch openai-sim``): nothing here reaches OpenAI.

``POST /v1/chat/completions`` answers a ``response_format`` json_schema request with JSON that is
valid against that schema and built deterministically from the request: every number comes from
the JSON input in the last user message, and every string names the input figures it cites, so a
test can check that the output's numbers came from the input. ``usage`` is reported.

Steering (no auth): ``GET /_sim/stats`` (requests counted), ``PUT /_sim/faults`` (the next N
requests answer 429 with Retry-After, 500, slowly, with invalid JSON, or with a refusal; -1 means
always), ``POST /_sim/reset``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field

from simulator.threaded import ThreadedServer

INPUT_MARKER = "INPUT (JSON):"
FAULT_ORDER = ("rate_limit", "server_error", "slow", "invalid_json", "refusal")


class Faults(BaseModel):
    """How many of the next requests get each fault (-1: every one)."""

    model_config = ConfigDict(extra="forbid")

    rate_limit: int = Field(default=0, ge=-1)
    server_error: int = Field(default=0, ge=-1)
    slow: int = Field(default=0, ge=-1)
    invalid_json: int = Field(default=0, ge=-1)
    refusal: int = Field(default=0, ge=-1)
    retry_after_s: float = Field(default=1.0, ge=0)
    slow_s: float = Field(default=5.0, ge=0)


@dataclass
class OpenAISimState:
    faults: Faults = field(default_factory=Faults)
    requests: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    last_request: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self) -> str | None:
        """Count the request and consume the first armed fault, if any."""
        with self.lock:
            self.requests += 1
            for name in FAULT_ORDER:
                left = getattr(self.faults, name)
                if left != 0:
                    if left > 0:
                        setattr(self.faults, name, left - 1)
                    return name
            return None

    def count(self, outcome: str) -> None:
        with self.lock:
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_outcome": dict(self.by_outcome),
                "faults": self.faults.model_dump(),
            }

    def reset(self) -> None:
        with self.lock:
            self.faults = Faults()
            self.requests = 0
            self.by_outcome = {}
            self.last_request = None


# --- deterministic, schema-valid output --------------------------------------------------------


_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def _facts(value: Any, path: str = "") -> list[tuple[str, Any, str]]:
    """Every numeric leaf of the input (decimals sent as strings too), with its path
    (``price.diff_pct[2]``)."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [(path or "value", value, str(value))]
    if isinstance(value, str) and _NUMERIC.match(value):
        return [(path or "value", float(value) if "." in value else int(value), value)]
    out: list[tuple[str, Any, str]] = []
    if isinstance(value, dict):
        for key in sorted(value):
            out += _facts(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _facts(item, f"{path}[{i}]")
    return out


def _input_of(messages: list[dict[str, Any]]) -> Any:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if not isinstance(content, str):
            continue
        start = content.find(INPUT_MARKER)
        start = content.find("{", start if start >= 0 else 0)
        if start < 0:
            continue
        try:
            parsed, _ = json.JSONDecoder().raw_decode(content[start:])
        except ValueError:
            continue
        return parsed
    return None


def _pick(seed: str, n: int) -> int:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % n if n else 0


class Generator:
    """Fills a JSON schema with values drawn from the input's numeric facts."""

    def __init__(self, schema: dict[str, Any], data: Any) -> None:
        self.defs = schema.get("$defs", {})
        self.facts = _facts(data)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            node = self.defs[name]
        return node

    def value(self, node: dict[str, Any], path: str) -> Any:
        node = self._resolve(node)
        if "anyOf" in node:
            branches = [b for b in node["anyOf"] if self._resolve(b).get("type") != "null"]
            return self.value(branches[0] if branches else node["anyOf"][0], path)
        if "enum" in node:
            options = node["enum"]
            return options[_pick(path, len(options))]
        if "const" in node:
            return node["const"]
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            props = node.get("properties", {})
            return {name: self.value(sub, f"{path}.{name}") for name, sub in props.items()}
        if kind == "array":
            low = int(node.get("minItems", 0))
            high = int(node.get("maxItems", max(low, 3)))
            count = min(max(low, 3), high)
            items = node.get("items", {})
            return [self.value(items, f"{path}[{i}]") for i in range(count)]
        if kind in ("integer", "number"):
            return self._number(node, path, kind == "integer")
        if kind == "boolean":
            return _pick(path, 2) == 0
        if kind == "null":
            return None
        return self._text(node, path)

    def _number(self, node: dict[str, Any], path: str, integer: bool) -> float | int:
        low = node.get("minimum", node.get("exclusiveMinimum", -math.inf))
        high = node.get("maximum", node.get("exclusiveMaximum", math.inf))
        fits = [
            v
            for _, v, _ in self.facts
            if low <= v <= high and (not integer or float(v).is_integer())
        ]
        if fits:
            chosen = fits[_pick(path, len(fits))]
            return int(chosen) if integer else chosen
        fallback = low if math.isfinite(low) else (0 if high >= 0 else high)
        return int(fallback) if integer else fallback

    def _text(self, node: dict[str, Any], path: str) -> str:
        field_name = path.rsplit(".", 1)[-1].split("[")[0] or "text"
        if not self.facts:
            text = f"{field_name}: no figures were given in the input."
        else:
            first = _pick(path, len(self.facts))
            cited = [self.facts[first], self.facts[(first + 1) % len(self.facts)]]
            figures = "; ".join(f"{name} = {written}" for name, _, written in cited)
            text = f"{field_name.replace('_', ' ').capitalize()} based on {figures}."
        limit = node.get("maxLength")
        return text[: int(limit)] if limit else text


# --- the app ------------------------------------------------------------------------------------


def _error(
    status: int, message: str, type_: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        {"error": {"message": message, "type": type_, "param": None, "code": type_}},
        status_code=status,
        headers=headers,
    )


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def sim_state(app: Litestar) -> OpenAISimState:
    state: OpenAISimState = app.state.sim
    return state


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    sim: OpenAISimState = state.sim
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        return _error(401, "You didn't provide an API key.", "invalid_request_error")
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _error(400, "The body is not valid JSON.", "invalid_request_error")
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages or not body.get("model"):
        return _error(400, "'model' and 'messages' are required.", "invalid_request_error")
    sim.last_request = body
    fault = sim.take_fault()
    if fault == "rate_limit":
        sim.count("rate_limit")
        seconds = sim.faults.retry_after_s
        return _error(
            429,
            "Rate limit reached (simulated).",
            "rate_limit_exceeded",
            {"retry-after": f"{seconds:g}", "retry-after-ms": str(int(seconds * 1000))},
        )
    if fault == "server_error":
        sim.count("server_error")
        return _error(500, "The server had an error (simulated).", "server_error")
    if fault == "slow":
        sim.count("slow")
        await asyncio.sleep(sim.faults.slow_s)
    data = _input_of(messages)
    refusal: str | None = None
    fmt = body.get("response_format") or {}
    if fault == "refusal":
        sim.count("refusal")
        content: str | None = None
        refusal = "I'm sorry, I can't help with that request (simulated refusal)."
    elif fault == "invalid_json":
        sim.count("invalid_json")
        content = '{"summary": "this answer stops in the middle'
    elif fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        content = json.dumps(Generator(schema, data).value(schema, "$"))
        sim.count("ok")
    else:
        content = f"Simulated answer about {len(_facts(data))} input figures."
        sim.count("ok")
    prompt_text = json.dumps(messages) + json.dumps(fmt)
    prompt_tokens = _tokens(prompt_text)
    completion_tokens = _tokens(content or refusal or "")
    return Response(
        {
            "id": f"chatcmpl-sim-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
            "system_fingerprint": "shelfwatch-openai-sim",
        }
    )


@get("/v1/models")
async def list_models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}


@get("/_sim/stats")
async def stats(state: State) -> dict[str, Any]:
    sim: OpenAISimState = state.sim
    return sim.stats()


@put("/_sim/faults")
async def set_faults(data: JSONBody[Faults], state: State) -> dict[str, Any]:
    sim: OpenAISimState = state.sim
    with sim.lock:
        sim.faults = data
    return sim.stats()


@post("/_sim/reset", status_code=200)
async def reset(state: State) -> dict[str, Any]:
    sim: OpenAISimState = state.sim
    sim.reset()
    return sim.stats()


def create_app(state: OpenAISimState | None = None) -> Litestar:
    return Litestar(
        route_handlers=[chat_completions, list_models, stats, set_faults, reset],
        state=State({"sim": state or OpenAISimState()}),
        logging_config=None,
        openapi_config=None,
    )


class OpenAISimServer(ThreadedServer):
    """The stand-in on 127.0.0.1 in a daemon thread, for tests; a context manager."""

    label = "OpenAI stand-in"
    thread_name = "openai-sim"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = OpenAISimState()
        super().__init__(create_app(self.state), host, port)

    @property
    def url(self) -> str:
        """The base URL to give ``AsyncOpenAI(base_url=…)``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> int:
        """Chat completion requests received so far (every one, faulted or not)."""
        return self.state.stats()["requests"]  # type: ignore[no-any-return]

    def set_faults(self, **faults: Any) -> None:
        with self.state.lock:
            self.state.faults = Faults(**faults)

    def reset(self) -> None:
        self.state.reset()


def serve(host: str, port: int) -> None:
    """Serve the stand-in in the foreground (``shelfwatch openai-sim``); no access log, so no
    prompt ever lands in a log line."""
    uvicorn.run(
        create_app(),
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        access_log=False,
        ws="none",
    )
