"""`manage.py likeness_model check`, run as an operator runs it: a process of its own, settings
from the environment, figures on stdout, problem and fix on stderr with exit status 1."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from avatars.engine.pipeline import build_tiny_pipeline
from tests.engine.ldm_layout import pipeline_to_ldm_state_dict

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def check(tmp_path, *arguments, **settings):
    env = {
        **{
            name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "LIKENESS_"))
        },
        # The run's own key (tests/settings.py): the site refuses to start without one.
        "DJANGO_SECRET_KEY": os.environ["DJANGO_SECRET_KEY"],
        "LIKENESS_MEDIA_ROOT": str(tmp_path / "media"),
        # The tiny engine's layers are so small that more threads only contend on a shared CPU.
        "OMP_NUM_THREADS": "1",
        **settings,
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "likeness_model",
            "check",
            *arguments,
            "--output",
            str(tmp_path / "check.png"),
            "--steps",
            "2",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def figures(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S.*?)\s{2,}(.+)$", stdout, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-checkpoint")
    pipeline = build_tiny_pipeline(seed=0)
    pipeline.save_pretrained(folder / "diffusers")
    checkpoint = folder / "tiny.safetensors"
    save_file(pipeline_to_ldm_state_dict(pipeline, "sd15"), str(checkpoint))
    return checkpoint, folder / "diffusers"


def test_the_tiny_engine_is_checked_and_its_test_image_labelled(tmp_path):
    result = check(tmp_path)

    assert result.returncode == 0, result.stderr
    shown = figures(result.stdout)
    pipeline = build_tiny_pipeline(seed=0)
    assert shown["model"] == "tiny engine: not a real model"
    assert shown["family"] == "sd15"
    assert shown["resolution"] == "64 px"
    assert (shown["device"], shown["dtype"]) == ("cpu", "float32")
    assert float(shown["load"].removesuffix(" s")) > 0
    assert shown["parameters, unet"] == f"{sum(p.numel() for p in pipeline.unet.parameters()):,}"
    assert (
        shown["parameters, text_encoder"] == f"{sum(p.numel() for p in pipeline.text_encoder.parameters()):,}"
    )
    # One attention block down, one up, one in the middle, each with self- and cross-attention.
    assert shown["LoRA target modules"] == "to_k x8, to_q x8, to_v x8, to_out.0 x8"
    assert shown["tokenizer length"] == str(len(pipeline.tokenizer))
    assert shown["GPU memory, training"] == "not measured (no GPU)"
    assert (
        shown["test image"]
        == f"{tmp_path / 'check.png'} (tiny engine: not a real model, its images are coloured noise)"
    )
    with Image.open(tmp_path / "check.png") as image:
        assert image.size == (64, 64)
    assert "OK: a GPU worker can run this model." in result.stdout


def test_a_single_file_checkpoint_is_checked_with_its_family_from_the_weights(tmp_path, tiny_checkpoint):
    checkpoint, configs = tiny_checkpoint
    result = check(tmp_path, str(checkpoint), LIKENESS_MODEL_CONFIG=str(configs))

    assert result.returncode == 0, result.stderr
    shown = figures(result.stdout)
    assert shown["model"] == str(checkpoint)
    assert shown["family"] == "sd15"
    assert shown["test image"] == str(tmp_path / "check.png")
    assert (tmp_path / "check.png").is_file()


@pytest.mark.parametrize("case", ["missing", "folder", "not a checkpoint", "family", "pickle", "cuda"])
def test_each_failure_names_the_problem_and_the_fix(tmp_path, tiny_checkpoint, case):
    checkpoint, configs = tiny_checkpoint
    if case == "missing":
        model, settings, problem = (
            str(tmp_path / "nowhere.safetensors"),
            {},
            "there is no file or folder there",
        )
    elif case == "folder":
        model, settings, problem = str(tmp_path), {}, "is a folder but not a diffusers pipeline"
    elif case == "not a checkpoint":
        damaged = tmp_path / "model.safetensors"
        damaged.write_bytes(os.urandom(256))
        model, settings, problem = str(damaged), {}, "is not a checkpoint Likeness can read"
    elif case == "family":
        model = str(checkpoint)
        settings = {"LIKENESS_MODEL_FAMILY": "sdxl", "LIKENESS_MODEL_CONFIG": str(configs)}
        problem = "is Stable Diffusion 1.5 (sd15), but LIKENESS_MODEL_FAMILY says sdxl"
    elif case == "pickle":
        pickled = tmp_path / "model.ckpt"
        torch.save({"state_dict": {}}, pickled)
        model, settings, problem = str(pickled), {}, "is a pickled checkpoint (.ckpt)"
    else:
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        model, settings, problem = "tiny", {"LIKENESS_DEVICE": "cuda"}, "LIKENESS_DEVICE is cuda, but"

    result = check(tmp_path, model, **settings)

    assert result.returncode == 1
    assert problem in result.stderr
    assert "\nFix: " in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "check.png").exists()
