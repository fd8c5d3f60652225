from decimal import Decimal

from django import template

register = template.Library()

CURRENCY_SYMBOLS = {"cny": "¥", "jpy": "¥", "usd": "$", "eur": "€", "gbp": "£", "hkd": "HK$", "krw": "₩"}
# Stripe's zero-decimal currencies among those we name: their minor unit is the unit.
ZERO_DECIMAL_CURRENCIES = {"jpy", "krw"}


@register.filter
def money(amount_minor, currency: str) -> str:
    """990|money:"cny" -> "¥9.90"; an amount in the currency's minor unit, as Stripe counts it."""
    if amount_minor in (None, ""):
        return ""
    code = (currency or "").lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        number = f"{int(amount_minor):,}"
    else:
        number = f"{Decimal(int(amount_minor)) / 100:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"


@register.filter
def filesize_short(size_bytes) -> str:
    if size_bytes is None:
        return "—"
    size = float(size_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
