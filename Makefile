# The commands the README shows.
.PHONY: up test lint format typecheck check bench migrate

up:
	uv run shelfwatch up

test:
	uv run pytest

lint:
	uv run ruff check .
	uv run ruff format --check .

format:
	uv run ruff format .
	uv run ruff check --fix .

typecheck:
	uv run mypy

check: lint typecheck test

migrate:
	uv run shelfwatch migrate

bench:
	uv run python -m bench.crawl_cycle
