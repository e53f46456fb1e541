"""The shared OpenAI layer used by competitor and optimization jobs (never by HTTP requests).

llm = LlmService(ctx.unit_of_work, OpenAIConnector(settings.openai), ctx.redis)
result = await llm.complete(MY_PROMPT, MyInput(...))   # LlmResult[MyOutput]
"""

from services.llm.client import OpenAIConnector
from services.llm.prompts import Prompt, canonical_json
from services.llm.service import LlmResult, LlmService, Usage

__all__ = ["LlmResult", "LlmService", "OpenAIConnector", "Prompt", "Usage", "canonical_json"]
