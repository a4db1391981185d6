"""Names refuse controls, format characters (bidi overrides and isolates) and odd spaces."""

from __future__ import annotations

import pytest

from infra.names import is_display_name

REFUSED = [
    "abc\u202egpj.exe",  # right-to-left override: reads as abcexe.jpg
    *(f"a{chr(c)}b" for c in range(0x202A, 0x202F)),  # embeddings and overrides
    *(f"a{chr(c)}b" for c in range(0x2066, 0x206A)),  # isolates
    "a\u200eb",  # left-to-right mark
    "a\u200fb",  # right-to-left mark
    "a\u061cb",  # Arabic letter mark
    "a\x7fb",  # DEL
    "a\x85b",  # NEL, a C1 control
    "a\x9bb",  # CSI, a C1 control
    "a\x00b",
    "a\tb",
    "a\nb",
    "a\u200bb",  # zero-width space
    "\ufeffa",  # byte order mark
    "a\u2028b",  # line separator
    "a\u00a0b",  # no-break space
    "a\ue000b",  # private use
    "a\U000e0001b",  # language tag (Cf)
]
ACCEPTED = ["Movies", "Films d'été", "Кино", "映画", "أفلام", "Kids 👾", "4K HDR (2160p)", "a b"]


@pytest.mark.parametrize("name", REFUSED, ids=ascii)
def test_refused(name: str) -> None:
    assert is_display_name(name) is False


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted(name: str) -> None:
    assert is_display_name(name) is True
