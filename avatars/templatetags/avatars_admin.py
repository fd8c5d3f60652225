"""What the admin index shows about the GPU workers."""

from django import template

from avatars.selectors import engine_report_latest

register = template.Library()


@register.simple_tag
def engine_report():
    return engine_report_latest()
