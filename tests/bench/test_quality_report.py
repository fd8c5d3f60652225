"""bench/quality.py, the operator's quality report, runs end to end on the tiny engine and writes
its JSON and contact sheet (its seconds are figures for people, never asserted here)."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from tests.workers import REPO

pytestmark = pytest.mark.slow


def test_the_quality_report_writes_its_json_and_contact_sheet(faces_dir, tmp_path):
    report, sheet, examples = tmp_path / "report.json", tmp_path / "sheet.png", tmp_path / "examples"

    finished = subprocess.run(
        [sys.executable, "bench/quality.py", "--photos", str(faces_dir / "obama"), "--templates", "wedding,film-noir",
         "--train-samples", "8", "--json", str(report), "--sheet", str(sheet),
         "--examples", str(examples), "--consent", "a test set"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["engine"] == "tiny engine: not a real model"
    assert data["training"]["samples"] == 8 and data["training"]["curve"]
    wedding, _noir = data["templates"]
    assert wedding["slug"] == "wedding" and len(wedding["more_like_me"]) == 2
    assert [stage["stage"] for stage in wedding["stages"]][0] == "base"
    assert "wedding" in finished.stdout and "not a real model" in finished.stdout
    with Image.open(sheet) as picture:
        assert picture.width > 0 and picture.height > 0
    # Candidate examples, one per template, labelled as the tiny engine's wherever they go.
    listed = json.loads((examples / "examples.json").read_text())
    assert listed["test_output"] is True and listed["consent"] == "a test set"
    assert [entry["file"] for entry in listed["examples"]] == ["tiny-engine-wedding.png", "tiny-engine-film-noir.png"]
    with Image.open(examples / "tiny-engine-wedding.png") as candidate:
        assert "tiny engine: not a real model" in candidate.text["Comment"]
        assert list(candidate.size) == listed["examples"][0]["size"]
    assert "not for the style pages" in finished.stdout


def test_examples_are_refused_without_a_consent_note(faces_dir, tmp_path):
    finished = subprocess.run(
        [sys.executable, "bench/quality.py", "--photos", str(faces_dir / "obama"), "--examples", str(tmp_path / "examples")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )

    assert finished.returncode == 2 and "--examples needs --consent" in finished.stderr
    assert not (tmp_path / "examples").exists()
