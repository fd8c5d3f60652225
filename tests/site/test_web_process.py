"""The web process never imports torch: photo checks use dlib and ONNX, GPU work stays in the worker."""

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
from avatars.engine import intake
intake.load_models()
print(json.dumps({
    "torch": "torch" in sys.modules,
    "diffusers": "diffusers" in sys.modules,
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking pytest process.
    "max_rss_mb": int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) / 1024,
}))
"""


def test_the_web_process_loads_every_view_and_the_photo_checks_without_torch():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=300,
                            check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["torch"] is False and report["diffusers"] is False
    # Django, the dlib models and NudeNet's ONNX session: a few hundred MB, not torch's GBs.
    assert report["max_rss_mb"] < 600, report
    print(f"web process RSS with photo checks loaded: {report['max_rss_mb']:.0f} MB")
