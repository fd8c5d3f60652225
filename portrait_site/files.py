"""Streaming a private file (a photo, a portrait) to its owner: one way for the pages and the API."""

from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header


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


def private_bytes_response(content: bytes, *, content_type: str, download_name: str) -> HttpResponse:
    """A private download made on the fly (a zip, a file with its metadata written in)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=download_name)
    response["Cache-Control"] = "private, no-store"
    return response
