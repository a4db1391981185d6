"""What a name shown to other people may hold: letters, marks, numbers, punctuation, symbols
and the plain space, judged by Unicode general category.

Refused: controls (``Cc``: C0, DEL and the C1 range), format characters (``Cf``: the bidi
embeddings, overrides and isolates U+202A-202E and U+2066-2069, the marks U+200E/U+200F and
U+061C, zero-width characters, the BOM), surrogates, private-use and unassigned code points,
line and paragraph separators, and every space but U+0020. A bidi override turns
``abc\\u202egpj.exe`` into what reads as ``abcexe.jpg``; a control or an invisible character
makes two names look the same. Library, user, profile, webhook, API key and API client names
go through ``is_display_name``; a watch party shows its members' profile names.
"""

from __future__ import annotations

import unicodedata

__all__ = ["is_display_name"]

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def is_display_name(text: str) -> bool:
    """True when every character of ``text`` is one a name may show (see the module)."""
    return all(ch == " " or unicodedata.category(ch) not in _REFUSED_CATEGORIES for ch in text)
