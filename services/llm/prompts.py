"""Versioned prompts: a name, a version, the instructions, and typed input and output."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)

# Marks where the JSON input starts in the user message (the stand-in server reads it there).
INPUT_MARKER = "INPUT (JSON):"


def canonical_json(data: BaseModel) -> str:
    """One spelling per input: sorted keys, no spaces, so equal inputs hash equally."""
    return json.dumps(
        data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@dataclass(frozen=True)
class Prompt(Generic[InT, OutT]):
    """A prompt whose version changes whenever its wording or output type changes; the
    version is part of every cache key and every stored result."""

    name: str
    version: str
    system: str
    instructions: str
    input_model: type[InT]
    output_model: type[OutT]

    @property
    def schema_name(self) -> str:
        # OpenAI allows [a-zA-Z0-9_-]{1,64} here.
        return "".join(c if c.isalnum() or c in "_-" else "_" for c in self.name)[:64]

    def response_format(self) -> dict[str, Any]:
        """Chat Completions ``response_format``: the output model as a strict JSON schema."""
        return {
            "type": "json_schema",
            "json_schema": {
                "name": self.schema_name,
                "schema": to_strict_json_schema(self.output_model),
                "strict": True,
            },
        }

    def messages(self, data: InT) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {
                "role": "user",
                "content": f"{self.instructions}\n\n{INPUT_MARKER}\n{canonical_json(data)}",
            },
        ]

    def cache_key(self, model: str, data: InT) -> str:
        """sha256 of (model, prompt name, prompt version, canonical input)."""
        material = json.dumps([model, self.name, self.version, canonical_json(data)])
        return hashlib.sha256(material.encode()).hexdigest()
