"""Account enums. Each value is the lowercase text the database stores."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = ["Role"]


@strawberry.enum
class Role(Enum):
    ADMIN = "admin"
    USER = "user"
    GUEST = "guest"
    KIDS = "kids"
