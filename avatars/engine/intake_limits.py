"""The limits a photo must meet to be accepted, each with what it was measured on."""

from __future__ import annotations

from dataclasses import dataclass

from avatars.engine import safety


@dataclass(frozen=True)
class IntakeLimits:
    min_side: int = 512
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000  # decompression-bomb guard: a 48 MP phone photo still fits
    # A JPEG decodes reduced (libjpeg's DCT scaling), so its cost hardly grows past the kept
    # size; PNG, WebP and HEIF decode every pixel (a 49 MP RGBA PNG: 2.6 s, ~300 MB). Capped
    # where their full decode costs about what a 12 MP JPEG's whole check does (bench/intake.py).
    max_full_decode_pixels: int = 16_000_000
    # The kept copy: enough for SDXL's 1024 px face crops, small enough to store 20 of.
    kept_max_side: int = 2048
    # The face box (dlib's: brows to chin) against the shorter side. A selfie at arm's
    # length gives 25-50%; below 12% the person is a figure in a landscape.
    min_face_fraction: float = 0.12
    # In the kept copy's pixels, where training crops come from: below ~96 px a 512 px
    # training crop is upscaled more than ~2.4x and the skin turns to mush.
    min_face_px: int = 96
    # Another face at least this fraction of the main face's width is another person in the
    # picture; smaller ones are far in the background and fall outside the training crop.
    other_face_fraction: float = 0.33
    # Past ~30 degrees of yaw the far eye and cheek are hidden: the LoRA learns a profile.
    # Yaw from the 5-point landmarks (faces.yaw_degrees): within 3.1 degrees of the 68-point
    # estimate on average over 375 faces, agreeing with it about this threshold on 95.5%.
    max_yaw_degrees: float = 30.0
    # Variance of the Laplacian of the face at 256 px. Sharp phone selfies give 100-3000, a
    # soft video still ~20; a 3 px Gaussian blur of a 1000 px photo drops any of them under 12.
    min_sharpness: float = 12.0
    # Mean grey level of the face (0-255) and the share of its pixels clipped to white.
    min_brightness: float = 60.0
    max_brightness: float = 200.0
    max_clipped_fraction: float = 0.2
    # 64-bit pHash of the affine-aligned face chip. Copies of 21 shots (the shared faces and 7
    # of the LFW extras, enlarged): stretched 12% and 20% across, recropped, tinted, greyed,
    # mirrored, turned 10 degrees all within 10 bits (0-10); stretched 35%, 4 of 42 over it
    # (up to 16). 1,030 pairs of different shots of one person (LFW's 750, the 24 extras', the
    # shared faces'): median 24 bits; 7 within 10 (0.68% refused), 17 within 12, 31 within 14.
    max_duplicate_bits: int = 10
    # The same shot by the identity embedding (mirror-averaged): a crop, tint, turn or mirror
    # of a photo embeds within 0.12 of it, while LFW's 750 same-person pairs are all farther
    # than 0.164 (none refused). A stretch moves the embedding 0.2-0.42 and greying up to
    # 0.23, as far as two shots of one person: the face chip's hash catches those.
    max_same_shot_distance: float = 0.15
    # Distance to the set's centroid: one person's photos lie within ~0.45 of their mean,
    # another person's ~0.65 and beyond (dlib's pairwise threshold is 0.6).
    max_identity_distance: float = 0.55
    max_nudity_score: float = safety.DEFAULT_THRESHOLD
