"""The styles admin: style templates (templates.py) and template requests with their votes (requests.py).

Django's autodiscovery imports an app's ``admin`` module; importing the two here registers them.
"""

from styles.admin import requests, templates  # noqa: F401
