"""The flow-matching families' training objective against the reference scripts' formula
(diffusers' examples/dreambooth/train_dreambooth_lora_z_image.py and
train_dreambooth_lora_flux2_klein.py), written out here line for line for one fixed batch."""

import pytest
import torch

from avatars.engine.training import LoraTrainer, TrainingSettings, photo_tensor

pytestmark = pytest.mark.slow  # builds adapters and runs the tiny transformers


def reference_get_sigmas(noise_scheduler_copy, timesteps, n_dim=4, dtype=torch.float32):
    """The scripts' get_sigmas, as they define it inside main()."""
    sigmas = noise_scheduler_copy.sigmas.to(dtype=dtype)
    schedule_timesteps = noise_scheduler_copy.timesteps
    step_indices = [(schedule_timesteps == t).nonzero().item() for t in timesteps]
    sigma = sigmas[step_indices].flatten()
    while len(sigma.shape) < n_dim:
        sigma = sigma.unsqueeze(-1)
    return sigma


def reference_loss(engine, photos, generator, *, batch_size):
    """One step's loss as the reference script computes it (weighting scheme "none", no prior
    preservation), drawing its random numbers from `generator` in the trainer's order: the
    photos, the (unused) latent sample, the noise, the timesteps."""
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.training_utils import compute_density_for_timestep_sampling, compute_loss_weighting_for_sd3

    pipeline, vae, transformer = engine.pipeline, engine.pipeline.vae, engine.pipeline.transformer
    noise_scheduler_copy = FlowMatchEulerDiscreteScheduler.from_config(pipeline.scheduler.config)
    caption = "a photo of sks man"
    pixels = torch.stack([photo_tensor(photo, resolution=64) for photo in photos])
    with torch.no_grad():
        latents = vae.encode(pixels).latent_dist.mode()

    indices = torch.randint(len(photos), (batch_size,), generator=generator)
    torch.randn((batch_size, *latents.shape[1:]), generator=generator)
    model_input = latents[indices]
    if engine.family == "zimage":
        model_input = (model_input - vae.config.shift_factor) * vae.config.scaling_factor
    else:
        latents_bn_mean = vae.bn.running_mean.view(1, -1, 1, 1)
        latents_bn_std = torch.sqrt(vae.bn.running_var.view(1, -1, 1, 1) + vae.config.batch_norm_eps)
        model_input = type(pipeline)._patchify_latents(model_input)
        model_input = (model_input - latents_bn_mean) / latents_bn_std
    noise = torch.randn(model_input.shape, generator=generator)
    bsz = model_input.shape[0]
    u = compute_density_for_timestep_sampling(
        weighting_scheme="none", batch_size=bsz, logit_mean=0.0, logit_std=1.0, mode_scale=1.29, generator=generator
    )
    timestep_indices = (u * noise_scheduler_copy.config.num_train_timesteps).long()
    timesteps = noise_scheduler_copy.timesteps[timestep_indices]
    sigmas = reference_get_sigmas(noise_scheduler_copy, timesteps, n_dim=model_input.ndim, dtype=model_input.dtype)
    noisy_model_input = (1.0 - sigmas) * model_input + sigmas * noise

    with torch.no_grad():
        if engine.family == "zimage":
            prompt_embeds, _ = pipeline.encode_prompt(prompt=caption, do_classifier_free_guidance=False)
            prompt_embeds = [pe for pe in prompt_embeds for _ in range(bsz)]
            timestep_normalized = (1000 - timesteps) / 1000
            noisy_model_input_list = list(noisy_model_input.unsqueeze(2).unbind(dim=0))
            model_pred_list = transformer(noisy_model_input_list, timestep_normalized, prompt_embeds, return_dict=False)[0]
            model_pred = -torch.stack(model_pred_list, dim=0).squeeze(2)
        else:
            depth = pipeline.text_encoder.config.num_hidden_layers
            prompt_embeds, text_ids = pipeline.encode_prompt(
                prompt=caption, text_encoder_out_layers=(depth // 4, depth // 2, 3 * depth // 4)
            )
            prompt_embeds = prompt_embeds.repeat_interleave(bsz, dim=0)
            text_ids = text_ids.repeat_interleave(bsz, dim=0)
            model_input_ids = type(pipeline)._prepare_latent_ids(model_input)
            packed_noisy_model_input = type(pipeline)._pack_latents(noisy_model_input)
            model_pred = transformer(
                hidden_states=packed_noisy_model_input,
                timestep=timesteps / 1000,
                guidance=None,
                encoder_hidden_states=prompt_embeds,
                txt_ids=text_ids,
                img_ids=model_input_ids,
                return_dict=False,
            )[0]
            model_pred = model_pred[:, : packed_noisy_model_input.size(1) :]
            model_pred = type(pipeline)._unpack_latents_with_ids(model_pred, model_input_ids)

    weighting = compute_loss_weighting_for_sd3(weighting_scheme="none", sigmas=sigmas)
    target = noise - model_input
    loss = torch.mean((weighting.float() * (model_pred.float() - target.float()) ** 2).reshape(target.shape[0], -1), 1)
    return loss.mean()


def test_the_trainers_flow_matching_loss_is_the_reference_scripts(flow_family_engine, photos_of):
    engine = flow_family_engine
    photos = photos_of("obama")[:3]
    trainer = LoraTrainer(
        engine, photos, caption="a photo of sks man", identity=("sks", "man"),
        settings=TrainingSettings(batch_size=2, rank=4, seed=3),
    )
    with engine.lock:
        try:
            trainer.prepare()
            start = trainer.generator.get_state()
            batch = trainer.draw_batch().noised
            with torch.no_grad():
                prediction = trainer.objective.prediction(
                    engine.denoiser, batch.noisy_input, batch.timesteps, trainer.conditioning(2)
                )
                loss = trainer.objective.loss(prediction, batch.target, batch.weighting)
            expected = reference_loss(engine, photos, torch.Generator().set_state(start), batch_size=2)
        finally:
            trainer.release()

    # Timesteps spread over the shifted schedule, not DDPM's integers.
    assert batch.timesteps.dtype == torch.float32 and ((batch.timesteps > 0) & (batch.timesteps <= 1000)).all()
    assert torch.isfinite(loss) and loss > 0
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
