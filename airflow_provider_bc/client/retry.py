"""The one place that decides what is retried and how long to wait: urllib3's ``Retry``.

The sync transport mounts it on its ``requests`` adapter; the async transport asks the same
object the same questions (``is_retry``, ``increment``, :meth:`BusinessCentralRetry.wait_for`) and
only sleeps differently. Retried: connection failures and dropped connections (also mid-body)
on GET, and HTTP 429, 502, 503, 504 (``Retry-After`` honoured, capped at ``retry_after_max``);
otherwise exponential backoff with jitter from the first retry on, capped at ``backoff_max``.
Not retried: TLS certificate failures and every other status. The waits between attempts add
up to at most ``max_retries * max(backoff_max, retry_after_max)``.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util.retry import Retry

from airflow_provider_bc.client.errors import THROTTLING_STATUSES
from airflow_provider_bc.client.settings import ClientSettings

log = logging.getLogger(__name__)


class BusinessCentralRetry(Retry):
    """urllib3 ``Retry`` that logs each decision and exposes the wait it would take."""

    def get_backoff_time(self) -> float:
        """``backoff_factor * 2**(n-1)`` plus jitter after the n-th failure (urllib3 waits 0 after the first)."""
        failures = len(self.history)
        if failures == 0:
            return 0.0
        jitter = random.random() * self.backoff_jitter  # noqa: S311 (spreading retries, not security)
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1) + jitter))

    def wait_for(self, response: Any = None) -> float:
        """Seconds to wait before the next attempt: ``Retry-After`` when sent, else the backoff."""
        retry_after = self.get_retry_after(response) if self.respect_retry_after_header and response else None
        wait = retry_after if retry_after is not None else self.get_backoff_time()
        last = self.history[-1] if self.history else None
        if last is not None:
            cause = f"HTTP {last.status}" if last.status else f"{type(last.error).__name__}: {last.error}"
            attempt = len(self.history)
            source = "Retry-After" if retry_after is not None else "backoff"
            log.warning(
                "Business Central %s %s failed (%s); retry %d of %s in %.1f s (%s)",
                last.method,
                last.url,
                cause,
                attempt,
                attempt + (self.total if isinstance(self.total, int) else 0),
                wait,
                source,
            )
        return wait

    def sleep(self, response: Any = None) -> None:
        """Block for :meth:`wait_for` seconds (the sync path)."""
        time.sleep(self.wait_for(response))


def after_dropped_read(retry: BusinessCentralRetry, url: str, error: Exception) -> BusinessCentralRetry | None:
    """The retry state after a GET lost its connection (``None`` when no retry is left)."""
    try:
        return retry.increment("GET", url, error=ProtocolError(f"{type(error).__name__}: {error}"))
    except (MaxRetryError, ProtocolError):
        return None


def retry_policy(settings: ClientSettings) -> BusinessCentralRetry:
    """The retry policy for ``settings``, shared by the sync and async transports."""
    return BusinessCentralRetry(
        total=settings.max_retries,
        connect=settings.max_retries,
        read=settings.max_retries,
        status=settings.max_retries,
        other=0,
        redirect=False,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=THROTTLING_STATUSES,
        backoff_factor=settings.backoff_factor,
        backoff_max=settings.backoff_max,
        backoff_jitter=settings.backoff_factor,
        retry_after_max=settings.retry_after_max,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
