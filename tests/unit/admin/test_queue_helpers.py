"""Pure helpers of the queue dashboard: redaction, key families, stored errors."""

from __future__ import annotations

from services.admin.queues import error_parts, key_prefix, public_kwargs, redact, request_id_of
from services.core.jobs import deserialize, serialize


def test_secret_looking_arguments_are_redacted_at_any_depth() -> None:
    args = {
        "channel_id": 7,
        "api_token": "t",
        "config": {"password": "p", "url": "https://x", "headers": [{"Authorization": "b"}]},
        "signing_secret": "s",
    }
    assert redact(args) == {
        "channel_id": 7,
        "api_token": "***",
        "config": {"password": "***", "url": "https://x", "headers": [{"Authorization": "***"}]},
        "signing_secret": "***",
    }
    assert args["api_token"] == "t"  # the original is untouched (replays need it)


def test_key_families_drop_ids() -> None:
    assert key_prefix("arq:job:probe:low:1:2") == "arq:job"
    assert key_prefix("arq:abort") == "arq:abort"
    assert key_prefix("shelfwatch:queue:low") == "shelfwatch:queue"
    assert key_prefix("shelfwatch:admin:stats:low:29922146") == "shelfwatch:admin:stats"
    assert key_prefix("shelfwatch:admin:workers") == "shelfwatch:admin"
    assert key_prefix("plain") == "plain"


def test_a_failed_result_keeps_its_traceback_through_the_job_serializer() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        stored = deserialize(serialize({"r": exc}))["r"]
    kind, message, trace = error_parts(stored)
    assert (kind, message) == ("ValueError", "boom")
    assert trace is not None and "Traceback" in trace and "raise ValueError" in trace
    assert error_parts("plain text") == ("Error", "plain text", None)


def test_the_request_id_rides_in_the_meta_argument_and_is_not_shown_as_one() -> None:
    kwargs = {"run_id": "r", "_meta": {"request_id": "abc"}}
    assert request_id_of(kwargs) == "abc"
    assert public_kwargs(kwargs) == {"run_id": "r"}
    assert request_id_of({"_meta": {"request_id": None}}) is None
