"""What Z-Image and FLUX.2 klein share: a transformer trained by flow matching on a Qwen3
language model's hidden states, as diffusers' train_dreambooth_lora_z_image.py and
train_dreambooth_lora_flux2_klein.py train it, and a byte-level Qwen tokenizer for the tiny
engines.

The objective, from those scripts: timesteps drawn by `compute_density_for_timestep_sampling`
under the weighting scheme (their default "none": uniform), looked up in the training
scheduler's shifted sigmas; the input interpolated `(1 - sigma) * latents + sigma * noise`;
the target the velocity `noise - latents`; each sample's loss weighted by
`compute_loss_weighting_for_sd3` (1 under "none").
"""

from __future__ import annotations

import functools

from .base import ModelFamily, NoisedBatch, TrainingObjective

# Qwen3's chat markup, as its tokenizer_config.json's template writes one user turn and the
# assistant's opening (with thinking switched off, an empty think block).
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
QWEN_MAX_TOKENS = 512
# The reference scripts' default weighting scheme.
WEIGHTING_SCHEME = "none"


@functools.lru_cache(maxsize=1)
def build_tiny_qwen_tokenizer():
    """A Qwen2 tokenizer whose vocabulary is the 256 byte-level symbols and no merges, with
    Qwen's special tokens and chat template: every prompt tokenizes, one byte per token, with
    no files."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import Qwen2Tokenizer

    vocab = {"<|endoftext|>": 0}
    for symbol in sorted(ByteLevel.alphabet()):
        vocab.setdefault(symbol, len(vocab))
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        chat_template=QWEN_CHAT_TEMPLATE,
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=QWEN_MAX_TOKENS,
    )


class FlowMatchingObjective(TrainingObjective):
    """The reference scripts' flow matching; the family's subclass maps latents in and out of
    its transformer."""

    def __init__(self, pipeline, *, weighting_scheme: str = WEIGHTING_SCHEME):
        from diffusers import FlowMatchEulerDiscreteScheduler

        # A copy, as the scripts' noise_scheduler_copy: its sigmas are the training schedule's.
        self.scheduler = FlowMatchEulerDiscreteScheduler.from_config(pipeline.scheduler.config)
        self.weighting_scheme = weighting_scheme

    def noised(self, model_input, generator):
        import torch
        from diffusers.training_utils import (
            compute_density_for_timestep_sampling,
            compute_loss_weighting_for_sd3,
        )

        device = model_input.device
        noise = torch.randn(model_input.shape, generator=generator, device=device)
        u = compute_density_for_timestep_sampling(
            weighting_scheme=self.weighting_scheme,
            batch_size=model_input.shape[0],
            logit_mean=0.0,
            logit_std=1.0,
            mode_scale=1.29,
            device=device,
            generator=generator,
        )
        indices = (u * self.scheduler.config.num_train_timesteps).long().cpu()
        timesteps = self.scheduler.timesteps[indices].to(device)
        sigmas = self.scheduler.sigmas[indices].to(device=device, dtype=model_input.dtype)
        sigmas = sigmas.reshape(-1, *([1] * (model_input.ndim - 1)))
        noisy_input = (1.0 - sigmas) * model_input + sigmas * noise
        weighting = compute_loss_weighting_for_sd3(weighting_scheme=self.weighting_scheme, sigmas=sigmas)
        return NoisedBatch(noisy_input, timesteps, noise - model_input, weighting)


class FlowMatchingFamily(ModelFamily):
    """A Qwen3-conditioned flow-matching transformer: the text encoder is frozen (its caption
    embeddings computed once), the LoRA is on the transformer alone."""

    denoiser_name = "transformer"
    text_encoder_lora_target_modules = ()
    prompt_token_limit = QWEN_MAX_TOKENS
    has_own_prompt_wording = True
    size_multiple = 16

    def prompt_tokenizer(self, base_model: str):
        return _qwen_prompt_tokenizer(base_model)

    def prompt_token_count(self, text: str, *, base_model: str = "tiny") -> int:
        """Tokens of `text` as the pipeline feeds it: inside Qwen's chat markup. On the tiny
        engine one byte is one token, so the count is an upper bound of the real tokenizer's."""
        return len(self._token_ids(text, base_model=base_model))

    def prompt_overflow(self, text: str, *, base_model: str = "tiny") -> str:
        tokenizer = self.prompt_tokenizer(base_model)
        markup = len(self._token_ids("", base_model=base_model))
        token_ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        return tokenizer.decode(token_ids[self.prompt_token_limit - markup :]).strip()

    def _token_ids(self, text: str, *, base_model: str) -> list[int]:
        tokenizer = self.prompt_tokenizer(base_model)
        wrapped = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
        return tokenizer(wrapped, truncation=False, verbose=False)["input_ids"]


@functools.lru_cache(maxsize=4)
def _qwen_prompt_tokenizer(base_model: str):
    from transformers import AutoTokenizer

    if base_model == "tiny":
        return build_tiny_qwen_tokenizer()
    return AutoTokenizer.from_pretrained(base_model, subfolder="tokenizer", local_files_only=True)


def tiny_qwen3_config(tokenizer, *, layers: int):
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=QWEN_MAX_TOKENS,
        pad_token_id=tokenizer.pad_token_id,
    )


# Qwen3-4B, the text encoder of Z-Image and of FLUX.2 klein 4B (its config.json): for the
# bench's full-size random-weight models.
QWEN3_4B_CONFIG = {
    "vocab_size": 151936,
    "hidden_size": 2560,
    "intermediate_size": 9728,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40960,
    "rope_theta": 1_000_000,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
}
