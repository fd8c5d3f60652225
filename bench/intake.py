"""Photo intake speed: checking 20 phone photos against merely decoding them.

Makes 20 phone-sized JPEGs (12 MP, 4000 x 3000 or 3000 x 4000, with camera EXIF and GPS,
sensor-like noise so they weigh what a phone's do) from the shared test photos: different
people and photos, two crops of each, mild colour and exposure shifts. Then, after one
warm-up call that loads the models, times

- decode: read each file and decode it fully with Pillow;
- check: `check_photo` on each in turn, as one set (each photo checked against the ones
  accepted before it).

- check, as the site takes them: the upload page sends two photos at a time and the web
  server runs several worker processes, so two checks run at once in two processes, each
  against the photos accepted when it started.

Prints them, the ratios, and each photo's time and verdict. Goals, as ratios to the full
decode in the same run: one at a time <= 1.5x, two at a time <= 1.0x. Then a crafted PNG (a few
hundred KB of one colour, 7000 x 7000 RGBA: 49 MP, just under the bomb limit) checked against
the median 12 MP JPEG's check: goal, no dearer.
Wall time depends on what else runs on the machine, so CPU time and the load average are
printed too: on an idle 2-core machine the check's wall time is about the calling thread's
CPU time (the helper thread's share runs beside it on the other core).

    .venv/bin/python bench/intake.py [--count 20]
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import statistics
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageEnhance

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FACES = ROOT.parent / "shared" / "testdata" / "faces"
SOURCES = [
    "obama/obama-1.jpg", "biden/biden-2.jpg", "rose_leslie/rose_leslie-2.jpg", "obama/obama-2.jpg",
    "alex_lacamoire/alex_lacamoire-1.jpg", "kit_harington/kit_harington-1.jpg", "obama/obama-3.jpg",
    "rose_leslie/rose_leslie-1.jpg", "biden/biden-1.jpg", "alex_lacamoire/alex_lacamoire-2.jpg",
    "lin_manuel_miranda/lin_manuel_miranda-1.png",
]
GOAL_ONE_AT_A_TIME = 1.5  # x the full decode of the same files
GOAL_TWO_AT_A_TIME = 1.0


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Model] = "Bench 12"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (31.0, 13.0, 48.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (121.0, 28.0, 12.0),
    }
    return exif


def phone_photo(source: Image.Image, *, variant: int, rng: np.random.Generator) -> bytes:
    """A 12 MP JPEG from `source`: a 3:4 or 4:3 crop (tighter for odd variants), upscaled, shifted, noisy."""
    portrait = source.height >= source.width
    aspect = 3 / 4 if portrait else 4 / 3
    tightness = 1.0 if variant % 2 == 0 else 0.85
    width = min(source.width, source.height * aspect) * tightness
    height = width / aspect
    left = (source.width - width) / 2
    top = (source.height - height) * (0.25 if variant % 2 == 0 else 0.1)  # faces sit high in a portrait
    size = (3000, 4000) if portrait else (4000, 3000)
    image = source.resize(size, Image.Resampling.BICUBIC, box=(left, top, left + width, top + height))
    image = ImageEnhance.Color(image).enhance(0.9 + 0.05 * (variant % 5))
    image = ImageEnhance.Brightness(image).enhance(0.95 + 0.03 * (variant % 4))
    pixels = np.asarray(image, dtype=np.int16) + rng.normal(0, 3, (size[1], size[0], 1)).astype(np.int16)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=phone_exif())
    return buffer.getvalue()


def crafted_png(side: int) -> bytes:
    """A real side x side RGBA PNG of one colour: tiny to send, 4 bytes a pixel to decode."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x80\x60\x40\xff" * side
    pixels = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def make_photos(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(7)
    paths = []
    for index in range(count + 1):  # one more, for the warm-up
        name = SOURCES[index % len(SOURCES)]
        with Image.open(FACES / name) as source:
            data = phone_photo(source.convert("RGB"), variant=index // len(SOURCES), rng=rng)
        path = folder / f"phone-{index:02d}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _worker_start() -> None:
    from avatars.engine.intake import load_models

    load_models()


def _check(path: str, known: list) -> tuple:
    from avatars.engine.intake import check_photo

    verdict = check_photo(Path(path).read_bytes(), known=known)
    return verdict.accepted, verdict.reason_code, verdict.perceptual_hash, verdict.embedding


def check_two_at_a_time(paths: list[Path]) -> float:
    """Two checks in flight in two processes, like two upload requests on a multi-process server."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from avatars.engine.duplicates import KnownPhoto

    # Spawned, like separate server processes: forking this one would copy its model threads mid-state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, initializer=_worker_start, mp_context=context) as pool:
        list(pool.map(_check, [str(paths[0])] * 2, [[], []]))  # both workers warm
        known: list = []
        pending: dict = {}
        queue = list(paths)
        started = time.perf_counter()
        while queue or pending:
            while queue and len(pending) < 2:
                path = queue.pop(0)
                pending[pool.submit(_check, str(path), list(known))] = path
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                accepted, _, perceptual_hash, embedding = future.result()
                if accepted:
                    known.append(KnownPhoto(pending[future].name, perceptual_hash, embedding))
                del pending[future]
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    arguments = parser.parse_args()

    from avatars.engine.duplicates import KnownPhoto
    from avatars.engine.intake import check_photo, load_models

    with tempfile.TemporaryDirectory(prefix="likeness-intake-bench-") as folder:
        started = time.perf_counter()
        *paths, warm_up = make_photos(Path(folder), arguments.count)
        megabytes = sum(path.stat().st_size for path in paths) / 2**20
        made_in = time.perf_counter() - started
        print(f"made {len(paths)} photos of 12 MP ({megabytes:.1f} MB) in {made_in:.1f} s")

        load_models()
        check_photo(warm_up.read_bytes())
        with Image.open(warm_up) as image:
            image.load()

        started = time.perf_counter()
        for path in paths:
            with Image.open(io.BytesIO(path.read_bytes())) as image:
                image.load()
        decode_seconds = time.perf_counter() - started

        known: list[KnownPhoto] = []
        rows = []
        load_before = os.getloadavg()[0]
        cpu_started = time.process_time()
        main_thread_started = time.thread_time()
        started = time.perf_counter()
        for path in paths:
            photo_started = time.perf_counter()
            verdict = check_photo(path.read_bytes(), known=known)
            rows.append((path.name, time.perf_counter() - photo_started, verdict))
            if verdict.accepted:
                known.append(KnownPhoto(path.name, verdict.perceptual_hash, verdict.embedding))
        check_seconds = time.perf_counter() - started
        check_cpu_seconds = time.process_time() - cpu_started
        main_thread_seconds = time.thread_time() - main_thread_started
        parallel_seconds = check_two_at_a_time(paths)

    for name, seconds, verdict in rows:
        outcome = "accepted" if verdict.accepted else verdict.reason_code
        print(f"  {name}  {seconds * 1000:6.0f} ms  {outcome}")
    count = len(paths)
    print(f"decode (Pillow, full size): {decode_seconds:6.2f} s"
          f"  {decode_seconds / count * 1000:6.0f} ms/photo")
    print(f"check_photo, as one set:    {check_seconds:6.2f} s  {check_seconds / count * 1000:6.0f} ms/photo"
          f"  (CPU: {check_cpu_seconds:.2f} s in all, {main_thread_seconds:.2f} s on the calling thread)")
    print(f"check / decode:             {check_seconds / decode_seconds:6.1f}x")
    print(f"check, two at a time:       {parallel_seconds:6.2f} s  {parallel_seconds / count * 1000:6.0f} ms/photo"
          f"  ({parallel_seconds / decode_seconds:.1f}x decode)")
    outcomes = collections.Counter(verdict.reason_code or "accepted" for _, _, verdict in rows)
    print("verdicts:", ", ".join(f"{outcome} {number}" for outcome, number in outcomes.most_common()))
    print(f"load average before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    crafted = crafted_png(7000)
    crafted_seconds = []
    for _ in range(3):
        started = time.perf_counter()
        crafted_verdict = check_photo(crafted)
        crafted_seconds.append(time.perf_counter() - started)
    jpeg_median = statistics.median(seconds for _, seconds, _ in rows)
    crafted_median = statistics.median(crafted_seconds)
    print(f"crafted 7000 x 7000 RGBA PNG ({len(crafted) / 1024:.0f} KB): {crafted_median * 1000:.0f} ms, "
          f"{crafted_verdict.reason_code or 'accepted'}; a 12 MP JPEG's check (median): {jpeg_median * 1000:.0f} ms; "
          f"goal no dearer: {'met' if crafted_median <= jpeg_median else 'missed'}")
    for label, seconds, goal in (("one at a time", check_seconds, GOAL_ONE_AT_A_TIME),
                                 ("two at a time, as the site", parallel_seconds, GOAL_TWO_AT_A_TIME)):
        ratio = seconds / decode_seconds
        print(f"goal <= {goal:.1f}x decode, {label}: {ratio:.1f}x, {'met' if ratio <= goal else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
