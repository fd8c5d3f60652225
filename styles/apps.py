from django.apps import AppConfig


class StylesConfig(AppConfig):
    name = "styles"
