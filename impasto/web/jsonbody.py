"""JSON request bodies parsed with limits, so hostile JSON gets a 422, never a 500.

Python's ``json`` recurses once per nesting level (a few thousand ``[`` raise ``RecursionError``),
turns every integer literal into an ``int`` (more than 4300 digits raise ``ValueError``), and accepts
``NaN``, ``Infinity`` and ``1e999`` as floats. None of that belongs in a request to this API, whose
bodies are flat objects of short numbers and strings: :func:`loads` refuses it with a message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ..errors import ImpastoError

MAX_DEPTH = 16  # nesting of arrays and objects
MAX_NUMBER_CHARS = 40  # one number literal (an int64 has 19 digits)


class BadJSON(ImpastoError):
    """The body is not JSON this API accepts (``invalid``: HTTP 422, like any other malformed body)."""


def _number(text: str, parse: Callable[[str], Any]) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadJSON(f"a number in the body is longer than {MAX_NUMBER_CHARS} characters")
    value = parse(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadJSON(f"the number {text} is out of range")
    return value


def _constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, without recursing (a bound is checked on the way)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def loads(raw: bytes | str) -> Any:
    """``json.loads`` with a nesting limit, a number-length limit and no NaN or infinities."""
    try:
        value = json.loads(
            raw,
            parse_int=lambda t: _number(t, int),
            parse_float=lambda t: _number(t, float),
            parse_constant=_constant,
        )
    except RecursionError:
        raise BadJSON(f"the body nests more than {MAX_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadJSON("the body is not valid JSON") from None
    if _depth(value) > MAX_DEPTH:
        raise BadJSON(f"the body nests more than {MAX_DEPTH} levels deep")
    return value


class LimitedJSONRoute(APIRoute):
    """A route whose JSON body FastAPI reads through :func:`loads` (errors: 422 with the reason)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if request.method in ("POST", "PUT", "PATCH") and kind.endswith(("/json", "+json")):
                body = await request.body()
                if body.strip():  # empty: the route says what it needed
                    request._json = loads(body)  # Starlette's cache: request.json() returns it
            return await handler(request)

        return limited
