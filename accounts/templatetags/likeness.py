"""Template filters every page may use: money as the reader's language writes it, and short file sizes."""

from django import template

from portrait_site.core.money import format_price

register = template.Library()


@register.filter
def money(amount_minor, currency: str) -> str:
    """{{ 990|money:"cny" }}: the price as the reader's language writes it (portrait_site.core.money)."""
    return format_price(amount_minor, currency)


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
