"""A diffusers pipeline written out as one single-file checkpoint in the original (LDM /
Stability "generative-models") layout: what a fine-tune shared as one .safetensors file holds.

diffusers ships only the other direction (`diffusers.loaders.single_file_utils`), and its
conversion scripts hard-code the full-size block counts; this one reads the layout from the
UNet's and VAE's configs, so it also writes the tiny engine. `tests/engine/test_single_file.py`
checks it against diffusers' own reading of the result.
"""

from __future__ import annotations

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
SD15_TEXT_PREFIX = "cond_stage_model.transformer."
SDXL_TEXT_PREFIXES = ("conditioner.embedders.0.transformer.", "conditioner.embedders.1.model.")

# (diffusers, original) name parts inside one residual block, UNet and VAE alike.
UNET_RESNET_PARTS = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
]
VAE_ATTENTION_PARTS = [
    ("group_norm.", "norm."),
    ("to_q.", "q."),
    ("to_k.", "k."),
    ("to_v.", "v."),
    ("to_out.0.", "proj_out."),
]
OPENCLIP_PARTS = [
    ("text_model.encoder.layers.", "transformer.resblocks."),
    ("layer_norm1", "ln_1"),
    ("layer_norm2", "ln_2"),
    (".mlp.fc1.", ".mlp.c_fc."),
    (".mlp.fc2.", ".mlp.c_proj."),
    (".self_attn.", ".attn."),
]
OPENCLIP_NAMES = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}


def pipeline_to_ldm_state_dict(pipeline, family: str) -> dict:
    """Every weight of `pipeline` (SD 1.5 or SDXL shaped) under its single-file name."""
    state = {UNET_PREFIX + name: tensor for name, tensor in unet_to_ldm(pipeline.unet).items()}
    state |= {VAE_PREFIX + name: tensor for name, tensor in vae_to_ldm(pipeline.vae).items()}
    if family == "sdxl":
        first, second = SDXL_TEXT_PREFIXES
        state |= {first + name: tensor for name, tensor in clip_to_ldm(pipeline.text_encoder).items()}
        state |= {second + name: tensor for name, tensor in open_clip_to_ldm(pipeline.text_encoder_2).items()}
    else:
        state |= {
            SD15_TEXT_PREFIX + name: tensor for name, tensor in clip_to_ldm(pipeline.text_encoder).items()
        }
    return {name: tensor.contiguous() for name, tensor in state.items()}


def unet_to_ldm(unet) -> dict:
    config = unet.config
    layers = config.layers_per_block
    blocks = len(config.block_out_channels)
    prefixes = [
        ("conv_in.", "input_blocks.0.0."),
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("add_embedding.linear_1.", "label_emb.0.0."),
        ("add_embedding.linear_2.", "label_emb.0.2."),
        ("conv_norm_out.", "out.0."),
        ("conv_out.", "out.2."),
    ]
    # The original numbers its input blocks straight through: each down block's layers, then
    # its downsampler as a block of its own.
    index = 1
    for block in range(blocks):
        for layer in range(layers):
            prefixes += [
                (f"down_blocks.{block}.resnets.{layer}.", f"input_blocks.{index}.0."),
                (f"down_blocks.{block}.attentions.{layer}.", f"input_blocks.{index}.1."),
            ]
            index += 1
        if block < blocks - 1:
            prefixes.append((f"down_blocks.{block}.downsamplers.0.conv.", f"input_blocks.{index}.0.op."))
            index += 1
    prefixes += [
        ("mid_block.resnets.0.", "middle_block.0."),
        ("mid_block.attentions.0.", "middle_block.1."),
        ("mid_block.resnets.1.", "middle_block.2."),
    ]
    # Up blocks have one layer more; the upsampler sits in the last one, after its attention if any.
    for block, block_type in enumerate(config.up_block_types):
        for layer in range(layers + 1):
            index = block * (layers + 1) + layer
            prefixes += [
                (f"up_blocks.{block}.resnets.{layer}.", f"output_blocks.{index}.0."),
                (f"up_blocks.{block}.attentions.{layer}.", f"output_blocks.{index}.1."),
            ]
        if block < blocks - 1:
            slot = 2 if "CrossAttn" in block_type else 1
            prefixes.append((f"up_blocks.{block}.upsamplers.0.", f"output_blocks.{index}.{slot}."))

    converted = {}
    for name, tensor in unet.state_dict().items():
        diffusers_prefix, original_prefix = next((d, o) for d, o in prefixes if name.startswith(d))
        rest = name[len(diffusers_prefix) :]
        if ".resnets." in diffusers_prefix:
            rest = _replace_parts(rest, UNET_RESNET_PARTS)
        converted[original_prefix + rest] = tensor
    return converted


def vae_to_ldm(vae) -> dict:
    blocks = len(vae.config.block_out_channels)
    prefixes = [
        ("encoder.conv_norm_out.", "encoder.norm_out."),
        ("decoder.conv_norm_out.", "decoder.norm_out."),
        ("encoder.mid_block.attentions.0.", "encoder.mid.attn_1."),
        ("decoder.mid_block.attentions.0.", "decoder.mid.attn_1."),
    ]
    for side in ("encoder", "decoder"):
        prefixes += [(f"{side}.mid_block.resnets.{i}.", f"{side}.mid.block_{i + 1}.") for i in range(2)]
    for block in range(blocks):
        prefixes += [
            (f"encoder.down_blocks.{block}.resnets.", f"encoder.down.{block}.block."),
            (f"encoder.down_blocks.{block}.downsamplers.0.", f"encoder.down.{block}.downsample."),
        ]
        # The decoder's up blocks are numbered from the bottom in the original.
        original = blocks - 1 - block
        prefixes += [
            (f"decoder.up_blocks.{block}.resnets.", f"decoder.up.{original}.block."),
            (f"decoder.up_blocks.{block}.upsamplers.0.", f"decoder.up.{original}.upsample."),
        ]

    converted = {}
    for name, tensor in vae.state_dict().items():
        match = next(((d, o) for d, o in prefixes if name.startswith(d)), None)
        if match is None:
            converted[name] = tensor
            continue
        diffusers_prefix, original_prefix = match
        rest = name[len(diffusers_prefix) :].replace("conv_shortcut", "nin_shortcut")
        if "attentions" in diffusers_prefix:
            rest = _replace_parts(rest, VAE_ATTENTION_PARTS)
            # The original's attention projections are 1x1 convolutions.
            if tensor.ndim == 2:
                tensor = tensor[:, :, None, None]
        converted[original_prefix + rest] = tensor
    return converted


def clip_to_ldm(text_encoder) -> dict:
    """OpenAI CLIP (SD 1.5's encoder, SDXL's first) keeps the transformers names under `text_model.`."""
    state = text_encoder.state_dict()
    return {
        name if name.startswith("text_model.") else "text_model." + name: tensor
        for name, tensor in state.items()
    }


def open_clip_to_ldm(text_encoder) -> dict:
    """OpenCLIP (SDXL's second encoder): its own names, q, k and v in one matrix, and the
    projection stored transposed."""
    converted, qkv = {}, {}
    for name, tensor in text_encoder.state_dict().items():
        if name == "text_projection.weight":
            converted["text_projection"] = tensor.T
            continue
        if name in OPENCLIP_NAMES:
            converted[OPENCLIP_NAMES[name]] = tensor
            continue
        for projection in ("q_proj", "k_proj", "v_proj"):
            marker = f".self_attn.{projection}."
            if marker in name:
                layer, kind = name.split(marker)
                qkv.setdefault((layer, kind), {})[projection] = tensor
                break
        else:
            converted[_replace_parts(name, OPENCLIP_PARTS)] = tensor
    for (layer, kind), parts in qkv.items():
        joined = _replace_parts(layer, OPENCLIP_PARTS) + f".attn.in_proj_{kind}"
        converted[joined] = torch.cat([parts["q_proj"], parts["k_proj"], parts["v_proj"]])
    return converted


def _replace_parts(name: str, parts) -> str:
    for diffusers_part, original_part in parts:
        name = name.replace(diffusers_part, original_part)
    return name
