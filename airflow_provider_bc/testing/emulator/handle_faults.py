"""The handle's fault injection: :meth:`FaultCalls.add_fault` makes the next matching requests fail
or misbehave (the kinds themselves are served by :mod:`.faults`)."""

from __future__ import annotations

from typing import Any

from .handle_control import ControlClient

_NOT_GIVEN: Any = object()  # add_fault's ``value`` when none is given (``None`` is the JSON null)


class FaultCalls(ControlClient):
    """Faults for the next requests."""

    def add_fault(
        self,
        kind_or_status: int | str,
        count: int = 1,
        route: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: int | str | None = None,
        next_link: str | None = None,
        *,
        delay: float | None = None,
        content_type: str | None = None,
        location: str | None = None,
        value: Any = _NOT_GIVEN,
    ) -> None:
        """Make the next ``count`` matching requests fail (or misbehave) one of these ways.

        Replacing the answer:

        * status ``401``, ``403``, ``429``, ``500``, ``502``, ``503`` or ``504``: a BC error body (403:
          ``Authorization_InsufficientPermissions``), on the token endpoint an Entra one (403:
          ``access_denied``); ``Retry-After`` only if ``retry_after`` is given: whole seconds, or a
          string sent verbatim (e.g. an HTTP date).
        * ``"drop"``: the connection closed without an answer.
        * ``"invalid_json"``: 200, truncated JSON body. ``"html"``: a 502 HTML page; ``"html_200"``:
          the same page with status 200 (a captive portal, a proxy's sign-in page).
        * ``"empty"``: 200 with BC's headers and an empty body (Content-Length 0).
        * ``"redirect"``: 302 to ``location``, empty body.

        Changing the real answer:

        * ``"cut"``: the connection closed half-way through the body.
        * ``"next_link"``: the page's ``@odata.nextLink`` set to ``next_link``.
        * ``"value"``: a collection's ``value`` replaced by ``value``, any JSON value (``None`` sends
          ``null``; other answers pass unchanged).
        * ``"content_type"``: its Content-Type replaced by ``content_type`` (default
          ``text/html; charset=utf-8``).
        * ``"stall"``: nothing at all for ``delay`` seconds, then the answer (slower than a read timeout).
        * ``"slow_body"``: headers and half the body at once, the rest after ``delay`` seconds.

        A client giving up during a delay does no harm. Counters record ``cut`` and ``drop`` as status
        0 and the others with the status answered (``stall`` and ``slow_body`` when the answer is ready,
        before the delay, so also when the client gave up).
        ``route`` is a route name as in :meth:`stats`; ``path_contains`` matches path and query.
        ``delay``, ``content_type``, ``location`` and ``value`` are refused with other kinds.
        An operation inside a ``$batch`` is matched as the request it stands for, by the status,
        ``value`` and ``next_link`` kinds only (the others wait for a request of its own); a fault on the
        route ``$batch`` answers the whole batch (:mod:`.batch`)."""
        fault: dict[str, Any] = {"kind": str(kind_or_status), "count": count, "route": route, "method": method}
        fault |= {"path_contains": path_contains, "retry_after": retry_after, "next_link": next_link}
        fault |= {"delay": delay, "content_type": content_type, "location": location}
        if value is not _NOT_GIVEN:
            fault["value"] = value
        self._control("POST", "faults", fault)
