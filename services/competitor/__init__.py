"""Competitor groups: a main product and 3-5 competitors, compared deterministically and
reported on by the shared LLM layer (or by rules when no key is set)."""
