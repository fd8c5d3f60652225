"""The engine tests' engines: each family's tiny engine, built once per session on one thread."""

from pathlib import Path

import pytest
from PIL import Image

FACES_DIR = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "testdata" / "faces"


def _tiny_engine_on_one_thread(family: str):
    """The tiny engine on the CPU, one torch thread: its layers are so small that a second
    thread only adds contention on a busy 2-core machine (10x slower there)."""
    import torch

    from avatars.engine.pipeline import EngineSpec, get_engine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield get_engine(EngineSpec(base_model="tiny", family=family, device="cpu"))
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_engine():
    """The tiny engine shaped like SD 1.5."""
    yield from _tiny_engine_on_one_thread("sd15")


@pytest.fixture(scope="session")
def tiny_sdxl_engine():
    """The tiny engine shaped like SDXL."""
    yield from _tiny_engine_on_one_thread("sdxl")


@pytest.fixture(scope="session")
def tiny_zimage_engine():
    """The tiny engine shaped like Z-Image."""
    yield from _tiny_engine_on_one_thread("zimage")


@pytest.fixture(scope="session")
def tiny_flux2_klein_engine():
    """The tiny engine shaped like FLUX.2 klein."""
    yield from _tiny_engine_on_one_thread("flux2_klein")


TINY_ENGINE_FIXTURES = {
    "sd15": "tiny_engine",
    "sdxl": "tiny_sdxl_engine",
    "zimage": "tiny_zimage_engine",
    "flux2_klein": "tiny_flux2_klein_engine",
}


@pytest.fixture(scope="session", params=list(TINY_ENGINE_FIXTURES))
def family_engine(request):
    """The tiny engine of each family in turn: a test using it runs once per family."""
    return request.getfixturevalue(TINY_ENGINE_FIXTURES[request.param])


@pytest.fixture(scope="session", params=["sd15", "sdxl"])
def sd_family_engine(request):
    """The tiny engine of each Stable Diffusion family (those that train their text encoders)."""
    return request.getfixturevalue(TINY_ENGINE_FIXTURES[request.param])


@pytest.fixture(scope="session", params=["zimage", "flux2_klein"])
def flow_family_engine(request):
    """The tiny engine of each flow-matching family."""
    return request.getfixturevalue(TINY_ENGINE_FIXTURES[request.param])


@pytest.fixture(scope="session")
def photos_of():
    """photos_of("obama"): one person's shared test photos, as small RGB copies."""

    def load(person: str) -> list[Image.Image]:
        photos = []
        for path in sorted((FACES_DIR / person).iterdir()):
            with Image.open(path) as image:
                image.draft("RGB", (256, 256))
                photo = image.convert("RGB")
                photo.thumbnail((256, 256))
                photos.append(photo)
        if not photos:
            pytest.fail(f"No photos of {person} in {FACES_DIR}")
        return photos

    return load


@pytest.fixture(scope="session")
def verdicts():
    """Verdicts of the shared photos, each checked once per test run (a check costs ~0.25 s)."""
    from avatars.engine.intake import check_photo

    cache = {}

    def verdict_of(path):
        if path not in cache:
            cache[path] = check_photo(path.read_bytes())
        return cache[path]

    return verdict_of
