import struct
import zlib

import pytest
from PIL import Image

from media.images import ImageError, ImageInfo, inspect_image
from tests.support.media_files import make_image, make_text, make_zero_byte


def _png_header_only(path, width, height):
    """A PNG whose header claims width x height: a decompression bomb's calling card."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def test_inspect_png_dimensions_and_blurhash(tmp_path):
    path = make_image(tmp_path / "red.png", 64, 48, "red")

    assert inspect_image(str(path)) == ImageInfo(
        width=64,
        height=48,
        blurhash="LDTI:j]9fQ]9|co1fQo1fQfQfQfQ",  # as blurhash.encode computes it
    )


def test_inspect_large_jpeg(tmp_path):
    path = make_image(tmp_path / "fanart.jpg", 3840, 2160, (0, 0, 128))

    info = inspect_image(str(path))

    assert (info.width, info.height) == (3840, 2160)
    assert len(info.blurhash) == 28  # 4 x 3 components


def test_inspect_applies_exif_rotation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.new("RGB", (80, 40), "blue").save(path, exif=exif)

    info = inspect_image(str(path))

    assert (info.width, info.height) == (40, 80)


def test_inspect_refuses_decompression_bomb(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 100_000, 100_000)

    with pytest.raises(ImageError, match="too large"):
        inspect_image(str(path))


def test_inspect_refuses_images_over_the_limit(tmp_path):
    path = make_image(tmp_path / "big.png", 200, 100)

    with pytest.raises(ImageError, match="200x100 exceeds 10000 pixels"):
        inspect_image(str(path), max_pixels=10_000)


def test_inspect_zero_byte_image(tmp_path):
    with pytest.raises(ImageError, match="not a recognised image"):
        inspect_image(str(make_zero_byte(tmp_path / "empty.jpg")))


def test_inspect_text_file(tmp_path):
    with pytest.raises(ImageError, match="not a recognised image"):
        inspect_image(str(make_text(tmp_path / "poster.jpg")))


def test_inspect_truncated_image(tmp_path):
    path = tmp_path / "cut.png"
    Image.effect_noise((256, 256), 64).convert("RGB").save(path)
    path.write_bytes(path.read_bytes()[:2000])

    with pytest.raises(ImageError, match="truncated or corrupt image"):
        inspect_image(str(path))


def test_inspect_missing_file(tmp_path):
    with pytest.raises(ImageError, match="cannot read image"):
        inspect_image(str(tmp_path / "missing.jpg"))
