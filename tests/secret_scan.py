"""A secret scan of the whole test run: no secret or token may reach a log, an error, XCom or a failure report.

What is collected while the tests run (each text with where it came from):

- every log record, DEBUG and up, of the root logger and, explicitly, of ``urllib3``, ``msal``,
  ``httpx``, ``httpcore``, ``airflow`` and ``airflow.task`` (Airflow's logging config may stop those
  from propagating), formatted with its exception text. Airflow replaces handlers and levels when
  it configures logging (at import, and again inside ``dag.test()``), so the handler is re-attached
  and the levels set back to DEBUG before every test and right after every ``dictConfig``;
- the text of every :class:`~airflow_provider_bc.client.errors.BusinessCentralError` constructed;
- what each test printed (pytest's captured stdout/stderr, passed or not): under Airflow 3 task
  logs are rendered by structlog straight to stdout, not through ``logging``;
- every XCom value in the Airflow metadata DB (read after each test and at the end, so a value a
  later run replaced is still seen);
- the text of every failed test's report (traceback and captured output and logs).

What counts as a leak (see :func:`find_leaks`): a known secret (``add_secret``: client secrets,
the access tokens the emulator issued, passphrases, web service access keys) anywhere in those
texts, and, whatever their origin, a JWT (a signed client assertion, a federated token), a bearer
token, a PEM private key (encrypted too), a ``client_assertion=`` value, Basic credentials (user and
web service access key) or a managed identity endpoint's ``X-IDENTITY-HEADER``. Leaks are reported by kind and
place, never by value. Not looked at: files on disk (the emulator's key and CA bundle are meant to
be there), subprocesses' output (the emulator's, the demo's), and structlog events below INFO
(Airflow's structlog filter drops them before anything is written).
"""

from __future__ import annotations

import bisect
import logging
import logging.config
import re
import sqlite3
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: loggers the capture handler is attached to ("" is the root); some do not propagate under Airflow
LOGGERS = ("", "urllib3", "msal", "httpx", "httpcore", "airflow", "airflow.task")

#: shorter "secrets" would match by chance (and a test's deliberately wrong password is no secret)
MIN_SECRET_LENGTH = 8

JWT_KIND = "JWT"
PATTERNS: dict[str, re.Pattern[str]] = {
    JWT_KIND: re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*"),
    "PEM private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "client assertion": re.compile(r"""client_assertion["']?\s*[=:]\s*["']?[A-Za-z0-9._~+/-]{16,}"""),
    "Basic credentials": re.compile(r"\bBasic\s+[A-Za-z0-9+/]{16,}={0,2}"),
    "managed identity header": re.compile(r"""X-IDENTITY-HEADER["']?\s*[=:]\s*["']?[A-Za-z0-9._~+/-]{16,}""", re.I),
}

_SEPARATOR = "\n\x00\n"  # between texts: no pattern and no secret can span two of them


@dataclass(frozen=True, order=True)
class Leak:
    """A secret of ``kind`` found in the text from ``where`` (the value itself is never kept)."""

    kind: str
    where: str


def find_leaks(texts: Iterable[tuple[str, str]], secrets: Mapping[str, str]) -> list[Leak]:
    """The leaks in ``texts`` (``(where, text)`` pairs), given ``secrets`` (value -> kind).

    Pure. A known secret found anywhere is reported with its kind; a JWT that is a known secret (or
    starts one) is reported with the secret's kind, any other JWT as ``"JWT"``. Sorted, no duplicates.
    """
    places: list[str] = []
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for where, text in texts:
        places.append(where)
        starts.append(offset)
        parts.append(text)
        offset += len(text) + len(_SEPARATOR)
    if not parts:
        return []
    haystack = _SEPARATOR.join(parts)

    def place(position: int) -> str:
        return places[bisect.bisect_right(starts, position) - 1]

    leaks: set[Leak] = set()
    tokens = {value: kind for value, kind in secrets.items() if PATTERNS[JWT_KIND].fullmatch(value)}
    for value, kind in secrets.items():
        if value in tokens or len(value) < MIN_SECRET_LENGTH:
            continue  # JWT-shaped secrets are matched below, all at once (there can be thousands)
        position = haystack.find(value)
        while position >= 0:
            leaks.add(Leak(kind, place(position)))
            position = haystack.find(value, position + 1)
    for pattern_kind, pattern in PATTERNS.items():
        for match in pattern.finditer(haystack):
            kind = pattern_kind
            if pattern_kind == JWT_KIND:
                found = match.group()
                kind = tokens.get(found) or next((k for v, k in tokens.items() if v.startswith(found)), JWT_KIND)
            leaks.add(Leak(kind, place(match.start())))
    return sorted(leaks)


class _CaptureHandler(logging.Handler):
    """Formats every record it sees (once, though it hangs on several loggers of one chain)."""

    def __init__(self, scanner: SecretScanner) -> None:
        super().__init__(level=logging.DEBUG)
        self.scanner = scanner
        self.last: logging.LogRecord | None = None
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))  # + exc_info, stack_info

    def emit(self, record: logging.LogRecord) -> None:
        if record is self.last:  # the same record, propagated to the next logger with this handler
            return
        self.last = record
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted is still scanned, message and arguments raw
            text = f"{record.msg!r} {record.args!r}"
        self.scanner.add_text(f"log {record.name or 'root'} during {self.scanner.phase}", text)


class SecretScanner:
    """Collects texts and secrets for one test session; :meth:`leaks` finds the leaks among them."""

    def __init__(self, xcom_db: Callable[[], Path | None] = lambda: None) -> None:
        self.texts: list[tuple[str, str]] = []
        self.secrets: dict[str, str] = {}
        self.phase = "collection"
        self.handler = _CaptureHandler(self)
        self._xcom_db = xcom_db
        self._xcom_seen: set[tuple[Any, ...]] = set()
        self._original_error_init: Callable[..., None] | None = None
        self._original_dict_config: Callable[..., None] | None = None
        self._levels: dict[str, int] = {}  # each watched logger's level before the first attach

    # -- what is looked for
    def add_secret(self, kind: str, value: str | None) -> None:
        """Look for ``value`` (of ``kind``, e.g. ``"client secret"``) in every collected text."""
        if value:
            self.secrets.setdefault(value, kind)

    # -- where it is looked for
    def add_text(self, where: str, text: str) -> None:
        if text:
            self.texts.append((where, text))

    def discard(self, value: str) -> None:
        """Forget ``value`` as a secret and every text containing it (a planted secret, after its test)."""
        self.secrets.pop(value, None)
        self.texts = [(where, text) for where, text in self.texts if value not in text]

    def attach(self) -> None:
        """(Re-)attach the capture handler and set DEBUG on every watched logger."""
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if self.handler not in logger.handlers:
                logger.addHandler(self.handler)
            self._levels.setdefault(name, logger.level)
            logger.setLevel(logging.DEBUG)

    def detach(self) -> None:
        """Remove the capture handler and give back the levels: what is logged at exit (Airflow 2
        logs its DB pool's disposal) then goes nowhere near pytest's closed capture streams."""
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self.handler)
            logger.setLevel(self._levels.pop(name, logger.level))

    def watch_logging_config(self) -> None:
        """Re-attach right after every ``logging.config.dictConfig`` (Airflow calls it inside
        ``dag.test()``, and would otherwise cut the scan off for the rest of the test)."""
        original = logging.config.dictConfig
        self._original_dict_config = original

        def dict_config_then_attach(config: Any) -> None:
            original(config)
            self.attach()

        logging.config.dictConfig = dict_config_then_attach

    def unwatch_logging_config(self) -> None:
        if self._original_dict_config is not None:
            logging.config.dictConfig = self._original_dict_config
            self._original_dict_config = None

    def watch_errors(self) -> None:
        """Record the text of every BusinessCentralError constructed from now on."""
        from airflow_provider_bc.client import errors

        original = errors.BusinessCentralError.__init__
        self._original_error_init = original
        scanner = self

        def recording_init(error: Any, *args: Any, **kwargs: Any) -> None:
            original(error, *args, **kwargs)
            scanner.add_text(f"{type(error).__name__} during {scanner.phase}", str(error))

        errors.BusinessCentralError.__init__ = recording_init  # type: ignore[method-assign,assignment]

    def unwatch_errors(self) -> None:
        from airflow_provider_bc.client import errors

        if self._original_error_init is not None:
            errors.BusinessCentralError.__init__ = self._original_error_init  # type: ignore[method-assign]
            self._original_error_init = None

    def read_xcom(self) -> None:
        """Collect the XCom values now in the metadata DB (plain sqlite3: no Airflow session needed).
        Nothing happens if the DB or its ``xcom`` table does not exist (yet)."""
        path = self._xcom_db()
        if path is None or not path.exists():
            return
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                rows = db.execute("SELECT dag_id, run_id, task_id, map_index, key, value FROM xcom").fetchall()
        except sqlite3.OperationalError:  # no xcom table yet (or another Airflow's schema)
            return
        for dag_id, run_id, task_id, map_index, key, value in rows:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            seen = (dag_id, run_id, task_id, map_index, key, text)
            if seen not in self._xcom_seen:
                self._xcom_seen.add(seen)
                self.add_text(f"XCom {dag_id}/{task_id}[{map_index}]/{key} of run {run_id}", text)

    def leaks(self) -> list[Leak]:
        return find_leaks(self.texts, self.secrets)


def describe(leaks: list[Leak]) -> list[str]:
    """One line per leak: kind and place, never the value."""
    return [f"{leak.kind} in {leak.where}" for leak in leaks]


class SecretScanPlugin:
    """The pytest side: re-attach before each test, read failure reports and XCom, scan at the end.

    A leak makes the session fail (exit status 1) with a "secret scan" section in the summary.
    """

    def __init__(self, scanner: SecretScanner) -> None:
        self.scanner = scanner
        self.leaks: list[Leak] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        self.scanner.attach()
        self.scanner.watch_logging_config()
        self.scanner.watch_errors()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.scanner.unwatch_errors()
        self.scanner.unwatch_logging_config()
        self.scanner.detach()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.scanner.phase = item.nodeid
        self.scanner.attach()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        # what this phase printed, passed or not: Airflow renders task logs through structlog to stdout
        for title, content in report.sections:
            if title.startswith(("Captured stdout", "Captured stderr")) and title.endswith(f" {report.when}"):
                self.scanner.add_text(f"output of {item.nodeid} ({report.when})", content)
        if report.failed:  # the traceback, and everything captured that pytest shows with it
            shown = [report.longreprtext, *(content for _, content in report.sections)]
            self.scanner.add_text(f"report of failed {item.nodeid} ({report.when})", "\n".join(shown))
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.scanner.read_xcom()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.scanner.phase = f"the session (after {nodeid})"

    @pytest.hookimpl(trylast=True)  # after the runner's own teardown of what is left
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.scanner.read_xcom()
        self.leaks = self.scanner.leaks()
        if self.leaks and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.leaks:
            return
        terminalreporter.section("secret scan", sep="=", red=True, bold=True)
        terminalreporter.line(
            f"{len(self.leaks)} secret(s) or token(s) leaked into logs, errors, XCom or failure reports "
            f"(values not shown; {len(self.scanner.secrets)} secrets, {len(self.scanner.texts)} texts scanned):",
            red=True,
        )
        for line in describe(self.leaks):
            terminalreporter.line(f"  {line}", red=True)
        terminalreporter.stats.setdefault("secret leaks", []).extend(self.leaks)
