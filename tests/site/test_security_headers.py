"""The security headers every page sends (HSTS only over HTTPS), templates free of inline script, the landing page."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.templatetags.likeness import money

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def test_pages_send_the_security_headers(client):
    response = client.get(reverse("landing"))

    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers


def test_no_hsts_without_https_even_on_a_secure_request(client):
    assert "Strict-Transport-Security" not in client.get(reverse("healthz"), secure=True).headers


def _headers_with_env(extra_env: dict) -> dict:
    # Settings read the environment once at start-up: a fresh interpreter shows what LIKENESS_HTTPS changes.
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz', secure=True);"
        "print(json.dumps({'status': r.status_code, **dict(r.headers)}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portrait_site.settings", **extra_env}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_hsts_is_sent_when_likeness_https_is_on():
    headers = _headers_with_env({"LIKENESS_HTTPS": "true", "DJANGO_ALLOWED_HOSTS": "testserver"})

    assert headers["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_templates_have_no_inline_scripts_or_styles():
    offenders = []
    for template in (REPO / "templates").rglob("*.html"):
        text = template.read_text()
        if "style=" in text or "<style" in text or " on" in text and "onclick=" in text:
            offenders.append(template.name)
        for chunk in text.split("<script")[1:]:
            if "src=" not in chunk.split(">", 1)[0]:
                offenders.append(template.name)
    assert offenders == []


@pytest.mark.parametrize("amount, currency, shown", [
    (990, "cny", "¥9.90"), (125000, "usd", "$1,250.00"), (500, "jpy", "¥500"), (990, "chf", "9.90 CHF"),
])
def test_money_filter(amount, currency, shown):
    assert money(amount, currency) == shown


def test_landing_shows_the_price_and_the_privacy_promise(client):
    from tests.factories import StyleTemplateFactory

    StyleTemplateFactory(title="Window light", is_published=True)
    StyleTemplateFactory(title="Secret draft", is_published=False)

    content = client.get(reverse("landing")).content.decode()

    assert "¥9.90" in content
    assert "Window light" in content and "Secret draft" not in content
    assert "deleted as soon as your avatar is trained" in content
    assert "No face swapping" in content
