"""Image inspection: dimensions and a BlurHash placeholder, safely."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

# blurhash-python's own ``encode`` goes through ``Image.getdata``, deprecated in Pillow 12
# (a warning that our test suite treats as an error); its C encoder is called directly.
from blurhash._functions import ffi as _blurhash_ffi
from blurhash._functions import lib as _blurhash_lib
from PIL import Image, UnidentifiedImageError

__all__ = ["DEFAULT_MAX_PIXELS", "ImageError", "ImageInfo", "inspect_image"]

DEFAULT_MAX_PIXELS = 100_000_000  # 10,000 x 10,000; larger posters/fanart are not real
_THUMBNAIL_EDGE = 32
_X_COMPONENTS = 4
_Y_COMPONENTS = 3
_ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF: the stored image is turned 90°


class ImageError(Exception):
    """An image that cannot (or must not) be decoded; the message is one readable line."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    blurhash: str


def inspect_image(path: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Dimensions as displayed (EXIF rotation applied) and a 4x3-component BlurHash.

    Images over ``max_pixels`` are refused before any pixel is decoded (decompression
    bombs); the hash comes from a thumbnail of at most 32 px, which JPEG draft mode
    decodes at reduced scale, so even a 4K poster takes a few milliseconds.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"image too large: {error}") from None
    except UnidentifiedImageError:
        raise ImageError("not a recognised image") from None
    except OSError as error:
        raise ImageError(f"cannot read image: {error}") from None
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageError("image has no pixels")
        if width * height > max_pixels:
            raise ImageError(f"image too large: {width}x{height} exceeds {max_pixels} pixels")
        try:
            orientation = image.getexif().get(0x0112)
            # Shrinks in place (JPEG decodes at 1/8 scale via draft mode), then to RGB.
            image.thumbnail((_THUMBNAIL_EDGE, _THUMBNAIL_EDGE))
            thumbnail = image.convert("RGB")
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageError(f"truncated or corrupt image: {error}") from None
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
        thumbnail = thumbnail.transpose(Image.Transpose.TRANSPOSE)
    return ImageInfo(width=width, height=height, blurhash=_blurhash(thumbnail))


def _blurhash(image: Image.Image) -> str:
    pixels = image.tobytes()
    width, height = image.size
    destination = _blurhash_ffi.new("char[]", 2 + 4 + (9 * 9 - 1) * 2 + 1)
    result = _blurhash_lib.create_hash_from_pixels(
        _X_COMPONENTS,
        _Y_COMPONENTS,
        width,
        height,
        _blurhash_ffi.from_buffer("uint8_t[]", pixels),
        width * 3,
        destination,
    )
    if result == _blurhash_ffi.NULL:
        raise ImageError("cannot compute BlurHash")
    return str(_blurhash_ffi.string(result).decode())
