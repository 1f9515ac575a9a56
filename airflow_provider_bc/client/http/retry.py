"""The one place that decides, for every attempt of one request, whether to try again and how long to wait.

One :class:`Attempts` object lives for one logical request (one GET, with the tokens it needs).
The sync and async clients run the same short loop around it: get a token, send, read; on a
:class:`~airflow_provider_bc.client.errors.BusinessCentralError` they ask :meth:`Attempts.after`
what to do, then only sleep (``time.sleep`` or ``asyncio.sleep``) and, when told, drop the token.

Retried, from one budget of ``max_retries`` (so at most ``max_retries + 1`` API requests):

* HTTP 429, 502, 503, 504 from Business Central, and 429/5xx from Entra ID (the token endpoint
  or its discovery document), waiting ``Retry-After`` when sent (seconds or an HTTP date);
* no complete answer: connection refused or reset, a connect or read timeout (before or
  during the body), a body cut off mid-way;
* an answer that is not what Business Central sends (an HTML page, a truncated or empty body,
  a wrong content type), as proxies produce in passing;
* one 401 from the API: the cached token is dropped and a new one fetched, at once.

Waits: ``Retry-After`` when sent, else exponential backoff with jitter
(``backoff_factor * 2**(n-1) + jitter``, capped at ``backoff_max``). A ``Retry-After`` above
``retry_after_max`` ends the request at once (the task or sensor decides when to come back).
The waits of one request add up to at most ``max_retries * max(backoff_max, retry_after_max)``,
and never run past the request's ``deadline`` when one is given.

Not retried: HTTP 500 and 408 (Business Central's own failure of this request, e.g. an AL
error or its 8-minute operation limit; asking again at once fails again and costs the 6,000-per-5-minutes
budget), 400, 403, 404, a second 401, Entra's refusals (``invalid_client``...), TLS failures.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Final

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralConnectionError,
    BusinessCentralError,
    BusinessCentralThrottledError,
    BusinessCentralTokenRejectedError,
)
from airflow_provider_bc.client.settings import ClientSettings

log = logging.getLogger(__name__)

#: the errors asking again soon may cure
RETRIED: Final = (BusinessCentralThrottledError, BusinessCentralConnectionError, BusinessCentralBadAnswerError)


class Backoff(Retry):
    """urllib3's ``Retry`` as the backoff and ``Retry-After`` arithmetic (urllib3 waits 0 after the first failure)."""

    def get_backoff_time(self) -> float:
        """``backoff_factor * 2**(n-1)`` plus jitter after the n-th failure, capped at ``backoff_max``."""
        failures = len(self.history)
        if failures == 0:
            return 0.0
        jitter = self.backoff_jitter * random.random()  # noqa: S311 (spreading retries, not security)
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1) + jitter))


def _token_refused(settings: ClientSettings) -> str:
    """What to check when Business Central refuses a new token of ``settings`` too."""
    who = f"client id {settings.client_id}" if settings.client_id else "the system-assigned identity"
    hint = f"a new token was refused too: check that {who} is enabled on Business Central's page Microsoft Entra "
    hint += "Applications"
    if settings.on_premises:
        resource = settings.scope.removesuffix("/.default")
        hint += f", and that the server instance's ValidAudiences holds {resource!r} (extra 'scope')"
    return hint


@dataclass(frozen=True)
class Retrying:
    """The decision to try again: after ``wait`` seconds, with a new token when ``new_token``."""

    wait: float
    new_token: bool = False


class Attempts:
    """The retry budget and decisions of one request; see the module docstring for the rules."""

    def __init__(self, settings: ClientSettings, describe: str, *, deadline: float | None = None) -> None:
        """``describe`` names the request in logs; ``deadline`` is a ``time.monotonic()`` instant."""
        self._settings = settings
        self._describe = describe
        self._deadline = deadline
        self._retries = 0
        self._token_renewed = False
        self._backoff = Backoff(
            total=None,
            backoff_factor=settings.backoff_factor,
            backoff_max=settings.backoff_max,
            backoff_jitter=settings.backoff_factor,
            retry_after_max=2**31,  # parsed in full: a longer Retry-After than allowed ends the request
        )

    @property
    def made(self) -> int:
        """Attempts made so far (the one that just failed included)."""
        return self._retries + 1

    def after(self, error: BusinessCentralError) -> Retrying:
        """What to do after ``error``: a :class:`Retrying` decision, or ``error`` raised to give up."""
        if isinstance(error, BusinessCentralTokenRejectedError) and not self._token_renewed:
            self._token_renewed = True
            return self._retry(error, 0.0, "with a new token", new_token=True)
        if isinstance(error, BusinessCentralTokenRejectedError):  # a new token was refused too
            raise error.after_attempts(self.made, _token_refused(self._settings))
        if not isinstance(error, RETRIED):
            raise error.after_attempts(self.made)
        retry_after = self._retry_after(error)
        if retry_after is not None and retry_after > self._settings.retry_after_max:
            raise error.after_attempts(
                self.made,
                f"Business Central asks to wait {retry_after:.0f} s (Retry-After), more than "
                f"retry_after_max={self._settings.retry_after_max} s allows",
            )
        if retry_after is not None:
            return self._retry(error, retry_after, "Retry-After")
        self._backoff = self._backoff.increment(method="GET", url=self._describe)
        return self._retry(error, self._backoff.get_backoff_time(), "backoff")

    def _retry(self, error: BusinessCentralError, wait: float, why: str, *, new_token: bool = False) -> Retrying:
        if self._retries >= self._settings.max_retries:
            raise error.after_attempts(
                self.made, f"gave up after {self.made} attempts (max_retries={self._settings.max_retries})"
            )
        if self._deadline is not None and time.monotonic() + wait > self._deadline:
            raise error.after_attempts(self.made, f"no time left before the deadline for a retry in {wait:.1f} s")
        self._retries += 1
        log.warning(
            "%s failed (%s); retry %d of at most %d in %.1f s (%s)",
            self._describe,
            _cause(error),
            self._retries,
            self._settings.max_retries,
            wait,
            why,
        )
        return Retrying(wait, new_token)

    def _retry_after(self, error: BusinessCentralError) -> float | None:
        if error.retry_after is None:
            return None
        try:
            return float(self._backoff.parse_retry_after(error.retry_after))
        except InvalidHeader:
            log.warning("%s: ignoring an unreadable Retry-After %r", self._describe, error.retry_after[:40])
            return None


def _cause(error: BusinessCentralError) -> str:
    """A few words on what went wrong, for the retry log line (the request is named there already)."""
    what = " ".join(str(part) for part in ("HTTP" if error.status else None, error.status, error.code) if part)
    if isinstance(error, BusinessCentralBadAnswerError):
        what += " answer that is not what Business Central sends"
    return what.strip() or type(error).__name__
