"""One function writes every price, as the reader's language writes it (portrait_site.core.money)."""

import pytest
from django.template import Context, Template
from django.utils import translation

from portrait_site.core.money import format_price


@pytest.mark.parametrize("language, amount, currency, shown", [
    ("en", 990, "cny", "¥9.90"),
    ("zh-hans", 990, "cny", "9.90 元"),
    ("en", 125000, "usd", "$1,250.00"),
    ("zh-hans", 990, "usd", "9.90 美元"),
    ("en", 500, "jpy", "¥500"),
    ("zh-hans", 500, "jpy", "500 日元"),
    ("en", 990, "CHF", "9.90 CHF"),
    ("zh-hans", 990, "chf", "9.90 CHF"),
])
def test_a_price_reads_as_its_language_writes_it(language, amount, currency, shown):
    with translation.override(language):
        assert format_price(amount, currency) == shown


def test_the_template_filter_is_the_same_function():
    with translation.override("zh-hans"):
        assert Template('{% load likeness %}{{ 990|money:"cny" }}').render(Context()) == "9.90 元"


@pytest.mark.django_db
def test_the_landing_page_and_the_terms_quote_the_price_in_the_visitors_language(client):
    for path in ("/", "/terms/"):
        assert "9.90 元" in client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
        assert "¥9.90" in client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
