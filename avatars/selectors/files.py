"""Bytes built for download: a portrait's PNG with its text chunks, and an avatar's portraits as a zip."""

from __future__ import annotations

from avatars.models import Avatar, Portrait
from avatars.selectors.portraits import portrait_download_name, portrait_list_for_avatar


def _png_text_chunk(keyword: str, text: str) -> bytes:
    import struct
    import zlib

    data = keyword.encode("latin-1") + b"\0" + text.encode("latin-1", "replace")
    return struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))


def portrait_download_bytes(*, portrait: Portrait) -> bytes:
    """The full-size PNG as stored, with what made it written into its metadata (PNG text
    chunks after the header, pixels untouched): a tiny engine's output says so wherever it goes."""
    with portrait.image.open("rb") as handle:
        png = handle.read()
    header_end = 8 + 25  # the signature, then IHDR: length, type, 13 bytes of data, CRC
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        return png
    chunks = _png_text_chunk("Software", "Likeness")
    chunks += _png_text_chunk("Title", f"{portrait.template.display_title}, version {portrait.version}")
    if portrait.engine_label:
        chunks += _png_text_chunk("Comment", f"Engine: {portrait.engine_label}")
    return png[:header_end] + chunks + png[header_end:]


def avatar_portraits_zip_name(*, avatar: Avatar) -> str:
    return f"likeness-{avatar.public_id.hex[:8]}-portraits.zip"


def avatar_portraits_zip(*, avatar: Avatar) -> bytes:
    """Every portrait of the avatar in full size, one zip; each named as its own download is."""
    import zipfile
    from io import BytesIO

    out = BytesIO()
    used: dict[str, int] = {}
    # PNGs are compressed already: stored as they are.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for portrait in portrait_list_for_avatar(avatar=avatar).order_by("template__sort_order", "created_at"):
            name = portrait_download_name(portrait=portrait)
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:
                name = name.removesuffix(".png") + f"-{used[name]}.png"
            try:
                archive.writestr(name, portrait_download_bytes(portrait=portrait))
            except FileNotFoundError:
                continue
    return out.getvalue()
