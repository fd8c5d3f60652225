"""Streaming a private file (a photo, a portrait) to its owner: one way for the pages and the API."""

from django.http import FileResponse, Http404


def private_file_response(field_file, *, content_type: str, download_name: str | None = None) -> FileResponse:
    try:
        opened = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("This file is no longer stored.") from None
    response = FileResponse(
        opened,
        content_type=content_type,
        as_attachment=download_name is not None,
        filename=download_name or "",
    )
    response["Cache-Control"] = "private, no-store"
    return response
