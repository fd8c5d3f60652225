"""Bytes built for download: a portrait's PNG with its text chunks, and an avatar's portraits as a zip."""

from __future__ import annotations

import tempfile
import zipfile

from avatars.models import Avatar, Portrait
from avatars.selectors.portraits import portrait_caption, portrait_download_name, portrait_list_for_avatar
from portrait_site.core.files import SPOOL_BYTES


def _png_itxt_chunk(keyword: str, text: str) -> bytes:
    """An iTXt chunk (PNG spec 11.3.4.5): the text in UTF-8, uncompressed, so a Chinese title
    survives (a tEXt chunk holds Latin-1 only). Written beside the stored bytes rather than by
    re-encoding the image with Pillow's PngInfo: the pixels and the stored file stay as they are."""
    import struct
    import zlib

    # keyword, null, compression flag and method (none), empty language tag and translated keyword
    data = keyword.encode("latin-1") + b"\0\0\0" + b"\0" + b"\0" + text.encode("utf-8")
    return struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))


def portrait_download_bytes(*, portrait: Portrait) -> bytes:
    """The full-size PNG as stored, with what made it written into its metadata (PNG text
    chunks after the header, pixels untouched): its name in the reader's language, and a tiny
    engine's output says so wherever it goes."""
    with portrait.image.open("rb") as handle:
        png = handle.read()
    header_end = 8 + 25  # the signature, then IHDR: length, type, 13 bytes of data, CRC
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        return png
    chunks = _png_itxt_chunk("Software", "Likeness")
    chunks += _png_itxt_chunk("Title", portrait_caption(portrait=portrait))
    if portrait.engine_label:
        chunks += _png_itxt_chunk("Comment", f"Engine: {portrait.engine_label}")
    return png[:header_end] + chunks + png[header_end:]


def avatar_portraits_zip_name(*, avatar: Avatar, favourites_only: bool = False) -> str:
    return f"likeness-{avatar.public_id.hex[:8]}-{'favourites' if favourites_only else 'portraits'}.zip"


def avatar_portraits_zip(*, avatar: Avatar, favourites_only: bool = False) -> tempfile.SpooledTemporaryFile:
    """Every portrait of the avatar (or every favourite) in full size, one zip, rewound in a
    spool that goes to disk past SPOOL_BYTES; each named as its own download is. The caller
    closes it (a FileResponse does)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    used: dict[str, int] = {}
    # PNGs are compressed already: stored as they are.
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        portraits = portrait_list_for_avatar(avatar=avatar)
        if favourites_only:
            portraits = portraits.filter(is_favourite=True)
        for portrait in portraits:
            name = portrait_download_name(portrait=portrait)
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:
                name = name.removesuffix(".png") + f"-{used[name]}.png"
            try:
                archive.writestr(name, portrait_download_bytes(portrait=portrait))
            except FileNotFoundError:
                continue
    spool.seek(0)
    return spool
