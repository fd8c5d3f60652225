"""The API's JSON parser: its own module, since DRF's settings import it while APIView loads."""

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with every way a body can fail to parse answered as a 400.

    json raises RecursionError, not ValueError, for a body nested thousands deep; DRF's own
    parser lets it through as a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("The JSON body is nested too deeply.")) from None
