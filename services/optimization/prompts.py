"""The versioned optimization prompt (only jobs import this: the gateway never loads the OpenAI
layer). The score, the rule suggestions and the competitor comparison go in (never raw pages);
ranked, typed suggestions that cite those figures come out."""

from __future__ import annotations

from services.llm import Prompt
from services.optimization.llm_io import LlmSuggestions, OptimizationInput

SUGGESTIONS_PROMPT: Prompt[OptimizationInput, LlmSuggestions] = Prompt(
    name="optimization.suggestions",
    version="1",
    system=(
        "You are an Amazon listing optimisation expert. You only use facts from the input and "
        "never invent figures."
    ),
    instructions=(
        "The input holds a listing's deterministic score by component, the suggestions a rule "
        "engine already made, the keywords competitors use that the listing lacks, and a "
        "comparison with its competitors. Add up to 6 suggestions the rules missed or refine "
        "theirs into concrete text: a whole rewritten title within title_limit characters, "
        "bullets to add, a price point with its position among competitors, image or video "
        "gaps, keywords to use. Every reason cites numbers from the input. expected_impact is "
        "the listing-score points the change would add (0-25)."
    ),
    input_model=OptimizationInput,
    output_model=LlmSuggestions,
)
