"""The ``shelfwatch`` command: run the whole product or one of its processes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence

from services.core.logging import configure_logging
from services.core.settings import Settings, get_settings

logger = logging.getLogger("shelfwatch")


def _require_urls(settings: Settings, command: str) -> None:
    missing = [
        name
        for name, value in (
            ("SHELFWATCH_DATABASE__URL", settings.database.url),
            ("SHELFWATCH_REDIS__URL", settings.redis.url),
        )
        if not value
    ]
    if missing:
        sys.exit(
            f"shelfwatch {command}: set {' and '.join(missing)}, "
            "or run `shelfwatch up`, which starts embedded servers when none are configured"
        )


def cmd_up(args: argparse.Namespace) -> int:
    from cli.supervisor import run_all

    return run_all(get_settings(), with_scheduler=not args.no_scheduler, openai_sim=args.openai_sim)


def cmd_gateway(args: argparse.Namespace) -> int:
    from gateway.serving import serve

    settings = get_settings()
    _require_urls(settings, "gateway")
    host = args.host or settings.http.host
    port = args.port or settings.http.port
    logger.info(
        "gateway listening",
        extra={"url": f"http://{host}:{port}", "workers": settings.http.workers},
    )
    serve("gateway.serving:create_served_app", host, port, settings.http)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from services.core.jobs import Queue
    from tasks.worker import run_workers

    settings = get_settings()
    _require_urls(settings, "worker")
    queues = [Queue(q) for q in args.queue] if args.queue else list(Queue)
    asyncio.run(run_workers(settings, queues))
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from scheduler.cron import run_scheduler

    settings = get_settings()
    _require_urls(settings, "scheduler")
    asyncio.run(run_scheduler(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from cli.supervisor import embedded_database
    from services.core.migrate import upgrade

    settings = get_settings()
    with embedded_database(settings) as url:
        upgrade(url, args.revision)
    logger.info("database migrated", extra={"revision": args.revision})
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from cli.admin import create_admin
    from cli.supervisor import embedded_database
    from services.core.errors import DomainError

    settings = get_settings()
    password = os.environ.get("SHELFWATCH_ADMIN_PASSWORD") or getpass.getpass("Admin password: ")
    with embedded_database(settings) as url:
        settings.database.url = url
        try:
            email = asyncio.run(create_admin(settings, args.email, password))
        except DomainError as exc:
            details = "; ".join(f"{e.field}: {e.message}" for e in exc.field_errors)
            suffix = f" ({details})" if details else ""
            sys.exit(f"shelfwatch create-admin: {exc.message}{suffix}")
    print(f"admin account ready: {email}")
    return 0


def cmd_apify_sim(args: argparse.Namespace) -> int:
    from simulator.config import SimulatorConfig
    from simulator.server import serve

    logger.info("Apify simulator listening", extra={"url": f"http://{args.host}:{args.port}"})
    serve(args.host, args.port, SimulatorConfig(day_offset=args.day_offset))
    return 0


def cmd_openai_sim(args: argparse.Namespace) -> int:
    from simulator.openai_sim import serve

    logger.info("OpenAI stand-in listening", extra={"url": f"http://{args.host}:{args.port}/v1"})
    serve(args.host, args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shelfwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up", help="gateway + worker (all queues) + scheduler, embedded servers if unset"
    )
    up.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not start the cron process (nor its outbox relay loop)",
    )
    up.add_argument(
        "--openai-sim", action="store_true", help="write LLM reports with the bundled stand-in"
    )
    up.set_defaults(handler=cmd_up)

    gw = sub.add_parser("gateway", help="the HTTP gateway")
    gw.add_argument("--host")
    gw.add_argument("--port", type=int)
    gw.set_defaults(handler=cmd_gateway)

    wk = sub.add_parser("worker", help="a worker; all queues unless --queue is given")
    wk.add_argument(
        "--queue", action="append", choices=["critical", "default", "low"], help="repeatable"
    )
    wk.set_defaults(handler=cmd_worker)

    sc = sub.add_parser("scheduler", help="the cron process (only enqueues)")
    sc.set_defaults(handler=cmd_scheduler)

    mg = sub.add_parser("migrate", help="apply database migrations")
    mg.add_argument("--revision", default="head")
    mg.set_defaults(handler=cmd_migrate)

    sim = sub.add_parser("apify-sim", help="the bundled Apify-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--day-offset", type=int, default=0, help="move the simulated clock")
    sim.set_defaults(handler=cmd_apify_sim)

    oa = sub.add_parser("openai-sim", help="the bundled OpenAI-compatible stand-in")
    oa.add_argument("--host", default="127.0.0.1")
    oa.add_argument("--port", type=int, default=8766)
    oa.set_defaults(handler=cmd_openai_sim)

    ad = sub.add_parser(
        "create-admin", help="create an admin (password from SHELFWATCH_ADMIN_PASSWORD or prompt)"
    )
    ad.add_argument("--email", required=True)
    ad.set_defaults(handler=cmd_create_admin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, process=f"shelfwatch-{args.command}")
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
