"""What every fuzzed request must get back, whatever it sent."""

from __future__ import annotations

import httpx

__all__ = ["exchange", "problems"]


def exchange(
    client: httpx.Client,
    body: bytes,
    headers: dict[str, str],
    statuses: frozenset[int] | None = None,
) -> list[str]:
    """POST ``body`` to /graphql; what is wrong with the answer, or that none came (the
    client's timeout passed: a hang) or the connection was dropped."""
    try:
        response = client.post("/graphql", content=body, headers=headers)
    except httpx.TimeoutException:
        return [f"no answer within the client's timeout ({client.timeout.read} s): a hang"]
    except httpx.TransportError as error:
        return [f"no answer: {type(error).__name__} {error}"]
    return problems(response, statuses)


def problems(response: httpx.Response, statuses: frozenset[int] | None = None) -> list[str]:
    """What is wrong with one answer; empty for a well-formed GraphQL answer: JSON with
    ``data`` or ``errors``, a status under 500 (or one of ``statuses``), every error with an
    ``extensions.code`` and none ``INTERNAL``."""
    status = response.status_code
    if status >= 500 or (statuses is not None and status not in statuses):
        return [f"HTTP {status}: {response.text[:300]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"HTTP {status} is not JSON: {response.text[:300]}"]
    if not isinstance(body, dict) or not ({"data", "errors"} & set(body)):
        return [f"HTTP {status} is not a GraphQL answer: {str(body)[:300]}"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None or code == "INTERNAL":
            found.append(f"HTTP {status} error code {code}: {error}")
    return found
