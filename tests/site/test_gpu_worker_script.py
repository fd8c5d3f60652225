"""scripts/gpu-worker.sh --dry-run: the install, the model check and one pinned gpu worker per GPU."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu-worker.sh"
INDEX = "https://wheels.example/cu128"


def dry_run(*arguments, path_dirs=(), **env):
    environment = {**os.environ, "LIKENESS_VENV": "/opt/likeness-venv", **env}
    environment["PATH"] = os.pathsep.join([*map(str, path_dirs), "/usr/bin", "/bin"])
    return subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def fake_nvidia_smi(folder: Path, indices: str) -> Path:
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nprintf '{indices}'\n")
    tool.chmod(0o755)
    return folder


def test_it_installs_the_cuda_torch_checks_the_model_and_pins_one_worker_per_gpu(tmp_path):
    result = dry_run(
        "--torch-index",
        INDEX,
        "--model",
        "/models/realistic.safetensors",
        path_dirs=[fake_nvidia_smi(tmp_path, "0\\n1\\n")],
    )

    assert result.returncode == 0, result.stderr
    pin = next(line for line in (REPO / "pyproject.toml").read_text().splitlines() if '"torch==' in line)
    torch_pin = pin.strip().strip(",").strip('"')
    model = "LIKENESS_BASE_MODEL=/models/realistic.safetensors"
    python = "/opt/likeness-venv/bin/python"
    assert result.stdout.splitlines() == [
        "+ python3 -m venv /opt/likeness-venv",
        "+ /opt/likeness-venv/bin/pip install -q --upgrade pip",
        f"+ /opt/likeness-venv/bin/pip install -q {torch_pin} --index-url {INDEX}",
        "+ /opt/likeness-venv/bin/pip install -q -e .",
        f"+ env {model} CUDA_VISIBLE_DEVICES=0 LIKENESS_DEVICE=cuda {python} manage.py likeness_model check",
        f"+ env {model} CUDA_VISIBLE_DEVICES=0 Q_CLUSTER_NAME=gpu LIKENESS_DEVICE=cuda {python} manage.py qcluster &",
        f"+ env {model} CUDA_VISIBLE_DEVICES=1 Q_CLUSTER_NAME=gpu LIKENESS_DEVICE=cuda {python} manage.py qcluster &",
    ]


def test_named_gpus_and_an_existing_install(tmp_path):
    result = dry_run("--skip-install", "--gpus", "2,3,5")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not any("pip" in line for line in lines)
    assert lines[0].startswith("+ env CUDA_VISIBLE_DEVICES=2 LIKENESS_DEVICE=cuda ")
    assert lines[0].endswith("manage.py likeness_model check")
    assert [line.split()[2] for line in lines[1:]] == [f"CUDA_VISIBLE_DEVICES={gpu}" for gpu in (2, 3, 5)]


def test_what_it_needs_is_asked_for():
    without_index = dry_run("--gpus", "0")
    without_gpus = dry_run("--skip-install")
    unknown = dry_run("--skip-install", "--gpus", "0", "--verbose")

    assert without_index.returncode == 2 and "--torch-index URL is required" in without_index.stderr
    assert without_gpus.returncode == 2 and "nvidia-smi is not on the PATH" in without_gpus.stderr
    assert unknown.returncode == 2 and "unknown argument --verbose" in unknown.stderr
    assert without_index.stdout == without_gpus.stdout == unknown.stdout == ""
