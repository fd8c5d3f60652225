"""Prompts that fit the model: a text encoder reads a fixed number of tokens and silently drops
the rest (CLIP 77, the Qwen3 encoders of Z-Image and FLUX.2 klein 512).

`prompt_token_count(spec, text)` counts `text` as the configured family's text encoder will
read it (start and end tokens, or chat markup, included), so a count above
`prompt_token_limit(spec)` means the model never sees the prompt's ending. A real model is
counted with the tokenizer in its folder; the tiny engine with the real family's tokenizer
where one ships (CLIP's, rebuilt from its BPE merges) and otherwise one token per byte, an
upper bound (see each family's `prompt_tokenizer`). Tokenizers are built once per process.
"""

from __future__ import annotations

from .families import DEFAULT_FAMILY, ModelFamily, family
from .pipeline import EngineSpec


def prompt_family(spec: EngineSpec) -> ModelFamily:
    """The family prompts are written for: the configured one (the default when the weights
    are left to say)."""
    return family(spec.family) if spec.family else DEFAULT_FAMILY


def prompt_token_limit(spec: EngineSpec) -> int:
    return prompt_family(spec).prompt_token_limit


def prompt_token_count(spec: EngineSpec, text: str) -> int:
    """How many tokens the model's text encoder reads for `text`; above the limit the rest is cut."""
    return prompt_family(spec).prompt_token_count(text, base_model=spec.base_model)


def prompt_overflow(spec: EngineSpec, text: str) -> str:
    """The words of `text` the model would drop ("" when it fits)."""
    return prompt_family(spec).prompt_overflow(text, base_model=spec.base_model)


def prompt_token_count_for(spec: EngineSpec, model_family: ModelFamily, text: str) -> tuple[int, int, str]:
    """`text` counted for `model_family`: (tokens, the limit, the words it would drop). With the
    configured model's tokenizer where that model is this family's, else the family's tiny one
    (its real tokenizer, or an upper bound of it)."""
    base_model = spec.base_model if prompt_family(spec) is model_family else "tiny"
    return (
        model_family.prompt_token_count(text, base_model=base_model),
        model_family.prompt_token_limit,
        model_family.prompt_overflow(text, base_model=base_model),
    )
