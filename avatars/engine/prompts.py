"""Prompts that fit the model: CLIP reads 77 tokens and silently drops the rest.

`prompt_token_count(spec, text)` counts `text` as the configured model's text encoder will
read it, start and end tokens included, so a count above CLIP_MAX_TOKENS means the model
never sees the prompt's ending. A real model is counted with the tokenizer in its folder
(transformers' CLIPTokenizer, which needs no torch and no model weights). SDXL's second
tokenizer has the same vocabulary and the same limit, so the first one's count holds for it.

The tiny engine's own tokenizer is a stand-in with one token per character, which would
refuse every real prompt. A template is written for the real models, so on the tiny engine
prompts are counted with CLIP's own tokenizer, rebuilt from the BPE merges shipped with the
model configs (base_model.clip_tokenizer). Tokenizers are built once per process.
"""

from __future__ import annotations

import functools

from .base_model import clip_tokenizer
from .pipeline import CLIP_MAX_TOKENS, TINY_BASE_MODEL, EngineSpec


def prompt_token_count(spec: EngineSpec, text: str) -> int:
    """How many tokens the model's text encoder reads for `text`, start and end included;
    above CLIP_MAX_TOKENS the rest is cut."""
    # verbose=False: counting a long prompt is the point, not an error worth a log line.
    return len(prompt_tokenizer(spec.base_model)(text, truncation=False, verbose=False)["input_ids"])


def prompt_overflow(spec: EngineSpec, text: str) -> str:
    """The words of `text` the model would drop ("" when it fits)."""
    tokenizer = prompt_tokenizer(spec.base_model)
    token_ids = tokenizer(text, truncation=False, add_special_tokens=False, verbose=False)["input_ids"]
    # Less the start and end tokens, which every prompt spends.
    return tokenizer.decode(token_ids[CLIP_MAX_TOKENS - 2 :]).strip()


@functools.lru_cache(maxsize=4)
def prompt_tokenizer(base_model: str):
    """The tokenizer that counts prompts for `base_model` (see the module's docstring)."""
    from transformers import CLIPTokenizer

    if base_model == TINY_BASE_MODEL:
        return clip_tokenizer()
    return CLIPTokenizer.from_pretrained(base_model, subfolder="tokenizer", local_files_only=True)
