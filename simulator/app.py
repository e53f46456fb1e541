"""The Apify-compatible HTTP API: the part of API v2 that ``apify-client`` uses to crawl, plus
``/_sim/`` endpoints to steer the simulator.

Apify API (token required in ``Authorization: Bearer …``; answers wrapped as on Apify):

* ``POST /v2/acts/{actor}/runs`` and ``POST /v2/actors/{actor}/runs`` — start a run
  (``maxItems``, ``maxTotalChargeUsd``, ``timeout``, ``memory``, ``build``, ``waitForFinish``);
* ``GET /v2/acts/{actor}/runs`` — the actor's runs (``offset``, ``limit``, ``desc``, ``status``,
  ``startedAfter``, ``startedBefore``), oldest first unless ``desc``;
* ``GET /v2/key-value-stores/{store}/records/INPUT`` — a run's input, as it was posted;
* ``GET /v2/actor-runs/{run}`` — the run, blocking up to ``waitForFinish`` seconds (max 60);
* ``POST /v2/actor-runs/{run}/abort``;
* ``GET /v2/datasets/{dataset}`` and ``GET /v2/actor-runs/{run}/dataset`` — the dataset object;
* ``GET /v2/datasets/{dataset}/items`` and ``GET /v2/actor-runs/{run}/dataset/items`` — a page of
  items (``offset``, ``limit``, ``desc``, ``fields``, ``omit``; ``X-Apify-Pagination-*`` headers).

Simulator control (no token): ``GET /_sim``, ``GET``/``PUT /_sim/config``, ``GET``/``DELETE
/_sim/runs``, ``GET /_sim/health``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import time
import zlib
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from pydantic import ValidationError

from simulator.actors import InputError, actor_for
from simulator.config import SimulatorConfig
from simulator.runs import TERMINAL, USER_ID, Run, RunOptions, iso, start_run
from simulator.state import SimulatorState

AnyRequest = Request[Any, Any, Any]
_ENCODER = msgspec.json.Encoder()
# Above this many items a page is rendered in a worker thread, so long polls stay responsive.
_THREAD_PAGE_ITEMS = 200
_NO_LIMIT = 999_999_999_999
_ERROR_TYPES = {
    400: "invalid-input",
    401: "token-not-provided",
    404: "page-not-found",
    405: "method-not-allowed",
    415: "unsupported-content-encoding",
    429: "rate-limit-exceeded",
}


class ApiError(Exception):
    """An error answered the way Apify does: ``{"error": {"type": …, "message": …}}``."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


def _json(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=_ENCODER.encode(payload),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def _error(status: int, type_: str, message: str) -> Response[bytes]:
    return _json({"error": {"type": type_, "message": message}}, status)


def _sim(request: AnyRequest) -> SimulatorState:
    return cast(SimulatorState, request.app.state["sim"])


def simulator_state(app: Litestar) -> SimulatorState:
    """The state behind an app made by :func:`create_app`."""
    return cast(SimulatorState, app.state["sim"])


def _number(request: AnyRequest, name: str, default: float | None = None) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "invalid-parameter", f"Parameter '{name}' must be a number") from None
    if not math.isfinite(value) or value < 0:
        raise ApiError(400, "invalid-parameter", f"Parameter '{name}' must be a finite number >= 0")
    return value


def _integer(request: AnyRequest, name: str) -> int | None:
    value = _number(request, name)
    return None if value is None else int(value)


def _flag(request: AnyRequest, name: str) -> bool:
    return (request.query_params.get(name) or "").lower() in ("1", "true")


def _names(request: AnyRequest, name: str) -> list[str]:
    raw = request.query_params.get(name) or ""
    return [part.strip() for part in raw.split(",") if part.strip()]


async def _guard(request: AnyRequest) -> Response[bytes] | None:
    """Latency, authentication and transport faults in front of every Apify endpoint."""
    if not request.url.path.startswith("/v2/"):
        return None
    sim = _sim(request)
    config = sim.config
    if config.latency_ms:
        await asyncio.sleep(config.latency_ms / 1000)
    if "token" in request.query_params:
        # Apify accepts ?token=, but a token in a URL ends up in logs: refuse it loudly.
        return _error(401, "token-not-provided", "Send the API token in the Authorization header")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "token-not-provided", "Authentication token was not provided")
    status = sim.transport.pick(config.rate_429, config.rate_5xx)
    if status == 429:
        return _error(429, "rate-limit-exceeded", "You have exceeded the rate limit (simulated)")
    if status is not None:
        return _error(status, "internal-server-error", "Internal server error (simulated)")
    return None


def _decode_body(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        try:
            import brotli  # type: ignore[import-not-found]  # optional, as in apify-client
        except ImportError:
            raise ApiError(415, "unsupported-content-encoding", "brotli is not installed") from None
        return cast(bytes, brotli.decompress(body))
    if encoding != "identity":
        raise ApiError(415, "unsupported-content-encoding", f"Unsupported encoding {encoding}")
    return body


async def _wait_for(run: Run, wait_s: float) -> None:
    """Block until the run ends or ``wait_s`` passes, like ``?waitForFinish=``."""
    deadline = time.monotonic() + wait_s
    while True:
        now = datetime.now(UTC)
        left = deadline - time.monotonic()
        if run.status(now) in TERMINAL or left <= 0:
            return
        until_end = (run.finishes_at - now).total_seconds()
        # Short naps so an abort is noticed; the finish time itself is known in advance.
        await asyncio.sleep(max(0.001, min(left, until_end, 0.5)))


def _find_run(request: AnyRequest, run_id: str) -> Run:
    run = _sim(request).runs.get(run_id)
    if run is None:
        raise ApiError(404, "record-not-found", "Actor run was not found")
    return run


def _find_dataset(request: AnyRequest, dataset_id: str) -> Run:
    run = _sim(request).runs.by_dataset(dataset_id)
    if run is None:
        raise ApiError(404, "record-not-found", "Dataset was not found")
    return run


@post(["/v2/acts/{actor_ref:str}/runs", "/v2/actors/{actor_ref:str}/runs"], status_code=201)
async def start_actor_run(request: AnyRequest, actor_ref: FromPath[str]) -> Response[bytes]:
    """Start a run of a simulated actor and answer at once (unless ``waitForFinish``)."""
    sim = _sim(request)
    actor = actor_for(actor_ref)
    if actor is None:
        raise ApiError(404, "record-not-found", "Actor was not found")
    body = _decode_body(await request.body(), request.headers.get("content-encoding"))
    try:
        run_input = json.loads(body) if body.strip() else {}
    except ValueError:
        raise ApiError(400, "invalid-input", "Input is not valid JSON") from None
    if not isinstance(run_input, dict):
        raise ApiError(400, "invalid-input", "Input must be a JSON object")
    try:
        urls = actor.input_urls(run_input)
    except InputError as exc:
        raise ApiError(400, "invalid-input", str(exc)) from None
    options = RunOptions(
        max_items=_integer(request, "maxItems"),
        max_total_charge_usd=_number(request, "maxTotalChargeUsd"),
        timeout_secs=_integer(request, "timeout"),
        memory_mbytes=min(32_768, max(128, _integer(request, "memory") or 1024)),
        build=request.query_params.get("build") or "latest",
    )
    run = start_run(actor, urls, options, sim.config, len(body), input_body=body)
    sim.runs.add(run)
    wait = min(_number(request, "waitForFinish", 0.0) or 0.0, sim.config.max_wait_s)
    if wait:
        await _wait_for(run, wait)
    return _json({"data": run.to_api(datetime.now(UTC), starting=not wait)}, 201)


def _moment(request: AnyRequest, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid-parameter", f"Parameter '{name}' must be a date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@get(["/v2/acts/{actor_ref:str}/runs", "/v2/actors/{actor_ref:str}/runs"])
async def list_actor_runs(request: AnyRequest, actor_ref: FromPath[str]) -> Response[bytes]:
    """The actor's runs, oldest first (``desc=1``: newest first), filtered like Apify's."""
    actor = actor_for(actor_ref)
    if actor is None:
        raise ApiError(404, "record-not-found", "Actor was not found")
    statuses = set(_names(request, "status"))
    after, before = _moment(request, "startedAfter"), _moment(request, "startedBefore")
    runs = [
        run
        for run in _sim(request).runs.all()
        if run.actor is actor
        and (after is None or run.started_at >= after)
        and (before is None or run.started_at <= before)
    ]
    now = datetime.now(UTC)
    if statuses:
        runs = [run for run in runs if run.status(now) in statuses]
    runs.sort(key=lambda run: run.started_at, reverse=_flag(request, "desc"))
    offset = _integer(request, "offset") or 0
    limit = min(_integer(request, "limit") or 1000, 1000)
    page = runs[offset : offset + limit]
    return _json(
        {
            "data": {
                "total": len(runs),
                "offset": offset,
                "limit": limit,
                "desc": _flag(request, "desc"),
                "count": len(page),
                "items": [run.list_item(now) for run in page],
            }
        }
    )


@get("/v2/key-value-stores/{store_id:str}/records/{key:str}")
async def get_record(
    request: AnyRequest, store_id: FromPath[str], key: FromPath[str]
) -> Response[bytes]:
    """A record of a run's default key-value store; the simulator keeps only its INPUT."""
    run = _sim(request).runs.by_store(store_id)
    if run is None:
        raise ApiError(404, "record-not-found", "Key-value store was not found")
    if key != "INPUT":
        raise ApiError(404, "record-not-found", "Record was not found")
    return Response(content=run.input_body, media_type=run.input_content_type)


@get("/v2/actor-runs/{run_id:str}")
async def get_actor_run(request: AnyRequest, run_id: FromPath[str]) -> Response[bytes]:
    """The run object; ``waitForFinish=N`` blocks up to N seconds until it ends."""
    run = _find_run(request, run_id)
    wait = min(_number(request, "waitForFinish", 0.0) or 0.0, _sim(request).config.max_wait_s)
    if wait:
        await _wait_for(run, wait)
    return _json({"data": run.to_api(datetime.now(UTC))})


@post("/v2/actor-runs/{run_id:str}/abort", status_code=200)
async def abort_actor_run(request: AnyRequest, run_id: FromPath[str]) -> Response[bytes]:
    """Abort a running run; what it pushed so far stays in its dataset."""
    run = _find_run(request, run_id)
    now = datetime.now(UTC)
    if run.status(now) not in TERMINAL:
        run.aborted_at = now
        run.status_message = "Aborted by the user"
    return _json({"data": run.to_api(now)})


def _dataset_object(run: Run) -> dict[str, Any]:
    now = datetime.now(UTC)
    count = run.item_count(now)
    started = iso(run.started_at)
    return {
        "data": {
            "id": run.dataset_id,
            "name": None,
            "userId": USER_ID,
            "createdAt": started,
            "modifiedAt": started,
            "accessedAt": iso(now),
            "itemCount": count,
            "cleanItemCount": count,
            "actId": run.actor.actor_id,
            "actRunId": run.run_id,
            "consoleUrl": f"https://console.apify.com/storage/datasets/{run.dataset_id}",
        }
    }


@get("/v2/datasets/{dataset_id:str}")
async def get_dataset(request: AnyRequest, dataset_id: FromPath[str]) -> Response[bytes]:
    """The dataset object of a run's default dataset."""
    return _json(_dataset_object(_find_dataset(request, dataset_id)))


@get("/v2/actor-runs/{run_id:str}/dataset")
async def get_run_dataset(request: AnyRequest, run_id: FromPath[str]) -> Response[bytes]:
    """The default dataset of a run."""
    return _json(_dataset_object(_find_run(request, run_id)))


async def _items(request: AnyRequest, run: Run) -> Response[bytes]:
    if (request.query_params.get("format") or "json").lower() != "json":
        raise ApiError(400, "invalid-parameter", "The simulator only serves format=json")
    offset = _integer(request, "offset") or 0
    limit = _integer(request, "limit")
    desc = _flag(request, "desc")
    fields, omit = _names(request, "fields"), _names(request, "omit")
    count = run.item_count(datetime.now(UTC))
    size = count if limit is None else limit

    def render() -> bytes:
        items = run.items(offset, size, count, desc)
        if fields:
            items = [{name: item[name] for name in fields if name in item} for item in items]
        if omit:
            items = [{k: v for k, v in item.items() if k not in omit} for item in items]
        return _ENCODER.encode(items)

    pending = max(0, min(count, offset + size) - offset)
    body = await asyncio.to_thread(render) if pending > _THREAD_PAGE_ITEMS else render()
    headers = {
        "X-Apify-Pagination-Total": str(count),
        "X-Apify-Pagination-Offset": str(offset),
        "X-Apify-Pagination-Count": str(pending),
        "X-Apify-Pagination-Limit": str(_NO_LIMIT if limit is None else limit),
        "X-Apify-Pagination-Desc": "true" if desc else "false",
    }
    return Response(content=body, media_type="application/json; charset=utf-8", headers=headers)


@get("/v2/datasets/{dataset_id:str}/items")
async def list_dataset_items(request: AnyRequest, dataset_id: FromPath[str]) -> Response[bytes]:
    """A page of dataset items, generated on demand for the requested offset and limit."""
    return await _items(request, _find_dataset(request, dataset_id))


@get("/v2/actor-runs/{run_id:str}/dataset/items")
async def list_run_dataset_items(request: AnyRequest, run_id: FromPath[str]) -> Response[bytes]:
    """A page of the items of a run's default dataset."""
    return await _items(request, _find_run(request, run_id))


@get("/_sim")
async def sim_status(request: AnyRequest) -> Response[bytes]:
    """What the simulator is doing: simulated day, number of runs, current config."""
    sim = _sim(request)
    return _json(
        {
            "simulated": True,
            "day": sim.today().isoformat(),
            "runs": len(sim.runs.all()),
            "injectedErrors": {str(code): n for code, n in sorted(sim.transport.injected.items())},
            "config": sim.config.model_dump(),
        }
    )


@get("/_sim/health")
async def sim_health() -> Response[bytes]:
    """Liveness for process supervisors."""
    return _json({"status": "ok"})


@get("/_sim/config")
async def get_sim_config(request: AnyRequest) -> Response[bytes]:
    """The current simulator config (the shape ``PUT /_sim/config`` accepts)."""
    return _json(_sim(request).config.model_dump())


@put("/_sim/config")
async def put_sim_config(request: AnyRequest) -> Response[bytes]:
    """Change faults, day offset or run timing from now on; only the given keys change."""
    try:
        changes = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ApiError(400, "invalid-input", "Body is not valid JSON") from None
    if not isinstance(changes, dict):
        raise ApiError(400, "invalid-input", "Body must be a JSON object")
    try:
        config = _sim(request).update(**changes)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, "invalid-input", errors) from None
    return _json(config.model_dump())


@get("/_sim/runs")
async def list_sim_runs(request: AnyRequest) -> Response[bytes]:
    """Runs started so far (oldest first) with their ASIN and item counts."""
    runs = _sim(request).runs.all()
    limit = _integer(request, "limit")
    if limit is not None:
        runs = runs[-limit:] if limit else []
    now = datetime.now(UTC)
    return _json({"total": len(runs), "runs": [run.summary(now) for run in runs]})


@delete("/_sim/runs", status_code=200)
async def clear_sim_runs(request: AnyRequest) -> Response[bytes]:
    """Forget every run."""
    _sim(request).runs.clear()
    return _json({"total": 0, "runs": []})


def _api_error(_: AnyRequest, exc: ApiError) -> Response[bytes]:
    return _error(exc.status, exc.type, exc.message)


def _http_error(_: AnyRequest, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    return _error(status, _ERROR_TYPES.get(status, "internal-server-error"), str(exc.detail))


def create_app(config: SimulatorConfig | None = None) -> Litestar:
    """The simulator as a Litestar app; its live state is ``simulator_state(app)``."""
    state = SimulatorState(config or SimulatorConfig())
    return Litestar(
        route_handlers=[
            start_actor_run,
            list_actor_runs,
            get_record,
            get_actor_run,
            abort_actor_run,
            get_dataset,
            get_run_dataset,
            list_dataset_items,
            list_run_dataset_items,
            sim_status,
            sim_health,
            get_sim_config,
            put_sim_config,
            list_sim_runs,
            clear_sim_runs,
        ],
        before_request=_guard,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        openapi_config=None,
        state=State({"sim": state}),
        # The process's own (JSON) logging stays in charge; Litestar must not install its own.
        logging_config=None,
    )
