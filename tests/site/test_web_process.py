"""The web process starts without torch, and the photo checks bring in no more of it than the
identity network (dlib's ResNet run by torch on the CPU): diffusers and GPU work stay in the worker."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portrait_site.settings")
import django
django.setup()
from django.urls import get_resolver
from django.utils.module_loading import import_string

def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
        else:
            pattern.callback  # imports every view module
walk(get_resolver().url_patterns)
import portrait_site.wsgi
torch_at_start_up = "torch" in sys.modules
from avatars.engine import intake
intake.load_models()
print(json.dumps({
    "torch_at_start_up": torch_at_start_up,
    "diffusers": "diffusers" in sys.modules,
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking pytest process.
    "max_rss_mb": int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) / 1024,
}))
"""


def test_the_web_process_loads_every_view_without_torch_and_the_photo_checks_without_diffusers():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=300,
                            check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["torch_at_start_up"] is False and report["diffusers"] is False
    # Django, dlib, NudeNet's ONNX session and torch's CPU runtime with the identity network:
    # ~420 MB (~240 MB before the network moved to torch), not a diffusion pipeline's GBs.
    assert report["max_rss_mb"] < 600, report
    print(f"web process RSS with photo checks loaded: {report['max_rss_mb']:.0f} MB")
