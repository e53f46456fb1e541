# The commands the README shows.
.PHONY: up test lint format typecheck imports check bench migrate

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

imports:
	uv run lint-imports

check: lint typecheck imports test

migrate:
	uv run shelfwatch migrate

# Every benchmark, one after the other (each seeds its own scratch data and drops it after).
BENCHMARKS = crawl_cycle ingest_split read_path logins queue_fairness llm_cache history_at_scale \
	alert_volume

bench:
	@for b in $(BENCHMARKS); do \
		echo; echo "== bench.$$b"; \
		extra=""; if [ $$b = read_path ]; then extra=--variants; fi; \
		uv run python -m bench.$$b $$extra || exit 1; \
	done
