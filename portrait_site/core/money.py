"""Prices as each language writes them: the one function every page, mail, receipt and API
display string formats an amount with. A leaf module.

English puts the symbol first ("¥9.90", "$9.90"); Chinese writes the number and then the
currency's name ("9.90 元", "9.90 美元").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import formats
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Currency:
    # How the reader's language writes an amount of it: "¥{amount}" in English, "{amount} 元"
    # in Chinese. A translated string, so a language added to LIKENESS_LANGUAGES writes prices
    # its own way from its catalogue alone.
    written: str | Promise
    # Digits after the point in the minor unit Stripe counts in (0 for yen and won).
    decimals: int = 2


CURRENCIES = {
    "cny": Currency(pgettext_lazy("a price in Chinese yuan (CNY)", "¥{amount}")),
    "usd": Currency(pgettext_lazy("a price in US dollars (USD)", "${amount}")),
    "eur": Currency(pgettext_lazy("a price in euros (EUR)", "€{amount}")),
    "gbp": Currency(pgettext_lazy("a price in pounds sterling (GBP)", "£{amount}")),
    "hkd": Currency(pgettext_lazy("a price in Hong Kong dollars (HKD)", "HK${amount}")),
    "jpy": Currency(pgettext_lazy("a price in Japanese yen (JPY)", "¥{amount}"), decimals=0),
    "krw": Currency(pgettext_lazy("a price in South Korean won (KRW)", "₩{amount}"), decimals=0),
}


def format_price(amount_minor: int | None, currency: str) -> str:
    """990, "cny" -> "¥9.90" in English, "9.90 元" in Chinese; the amount in the currency's
    minor unit, as Stripe and our orders count it. A currency not listed reads by its ISO code."""
    if amount_minor in (None, ""):
        return ""
    code = (currency or "").lower()
    known = CURRENCIES.get(code)
    decimals = known.decimals if known else 2
    value = Decimal(int(amount_minor)).scaleb(-decimals)
    amount = formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)
    if known is None:
        return f"{amount} {code.upper()}"
    return str(known.written).format(amount=amount)
