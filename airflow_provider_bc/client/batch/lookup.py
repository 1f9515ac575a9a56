"""What a set task reads (many entities by id, or by the values of one field) and how far a wait for them got."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_bc.client.batch.answers import shortlist
from airflow_provider_bc.client.batch.reads import BatchOptions, BatchRead, EntitiesById, MatchesByValue
from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.odata.filters import check_field, select_fields
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet

#: an entity id (text) or a value of the matched field
Key = str | int
_NATIVE = "render_template_as_native_obj=True on the DAG, or pass an XComArg such as task.output"


def _checked_key(key: object, argument: str, ids: bool) -> Key:
    if ids:  # kept as given; when that is the canonical text, as the checked id (not checked again)
        canonical = EntityId.of(key, argument)
        return key if isinstance(key, str) and key != canonical else canonical
    if (isinstance(key, str) and key.strip()) or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    raise BusinessCentralQueryError(argument, f"must be non-empty text or a whole number, got {key!r}")


def _checked_keys(keys: object, argument: str, ids: bool) -> tuple[Key, ...]:
    """``keys`` as a tuple without repeats, each checked; errors name ``argument`` (and the index)."""
    what = "ids" if ids else "values"
    if isinstance(keys, str | bytes):
        raise BusinessCentralQueryError(
            argument, f"must be a list of {what}, got the text {keys!r} (a list rendered as text? {_NATIVE})"
        )
    if isinstance(keys, Mapping) or not isinstance(keys, Iterable):
        raise BusinessCentralQueryError(argument, f"must be a list of {what}, got {keys!r}")
    given = list(keys)
    if not given:
        raise BusinessCentralQueryError(argument, f"is an empty list: no {what} to look for")
    return tuple(dict.fromkeys(_checked_key(key, f"{argument}[{index}]", ids) for index, key in enumerate(given)))


@dataclass(frozen=True)
class BatchLookup:
    """Entities of an entity set by id (``field`` ``None``), or those whose ``field`` equals each value.

    ``keys`` are the ids or values, without repeats (ids kept as given). Built once from a task's
    rendered arguments (:meth:`build`, :meth:`from_match`), every field checked; travels to a
    trigger as plain data (:meth:`to_dict` / :meth:`from_dict`).
    """

    entity_set: str
    keys: tuple[Key, ...]
    field: str | None = None
    company_id: str | None = None
    select: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "entity_set", EntitySet.of(self.entity_set))
        if self.field is not None:
            check_field(self.field, "match_field")
        default = "entity_ids" if self.field is None else "match_values"
        object.__setattr__(self, "keys", _checked_keys(self.keys, default, self.field is None))
        if self.company_id is not None:
            object.__setattr__(self, "company_id", CompanyId.of(self.company_id))
        if self.select is not None:
            object.__setattr__(self, "select", select_fields(self.select))

    @classmethod
    def build(
        cls,
        entity_set: str,
        keys: object,
        field: str | None = None,
        *,
        company_id: str | None = None,
        select: Iterable[str] | str | None = None,
        named: str | None = None,
    ) -> BatchLookup:
        """A lookup from a task's arguments; errors about the keys name ``named`` (default
        ``entity_ids`` or ``match_values``); an empty ``select`` selects every field."""
        keys = _checked_keys(keys, named or ("entity_ids" if field is None else "match_values"), field is None)
        return cls(entity_set, keys, field, company_id, None if not select else select_fields(select))

    @classmethod
    def from_match(
        cls, entity_set: str, match: object, *, company_id: str | None = None, select: Iterable[str] | str | None = None
    ) -> BatchLookup:
        """From ``match={"documentNumber": [values]}``: one field, a list of values."""
        if not isinstance(match, Mapping) or len(match) != 1:
            raise BusinessCentralQueryError("match", f"must map one field to a list of values, got {match!r}")
        ((field, values),) = match.items()
        named = f"match[{check_field(field, 'match')!r}]"
        return cls.build(entity_set, values, field, company_id=company_id, select=select, named=named)

    @property
    def by_id(self) -> bool:
        """Whether the keys are entity ids."""
        return self.field is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for a trigger's serialized arguments)."""
        return {
            **asdict(self),
            "entity_set": str(self.entity_set),
            "keys": [str(key) if isinstance(key, str) else key for key in self.keys],
            "company_id": None if self.company_id is None else str(self.company_id),
            "select": None if self.select is None else list(self.select),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchLookup:
        """The lookup :meth:`to_dict` described."""
        select = data.get("select")
        return cls(**{**data, "keys": tuple(data["keys"]), "select": None if select is None else tuple(select)})

    def describe(self) -> str:
        """``itemLedgerEntries by id`` or ``itemLedgerEntries by documentNumber``, for messages."""
        return f"{self.entity_set} by {self.field or 'id'}"

    def batch_read(self, settings: ClientSettings, urls: ApiUrls, keys: Iterable[Key]) -> BatchRead[dict[Any, Any]]:
        """The read of ``keys`` in ``$batch`` requests: by id ``{id: entity or None}``, else ``{value: [matches]}``."""
        options: BatchOptions = {"company_id": self.company_id, "select": self.select}
        if self.field is None:
            return EntitiesById(settings, urls, self.entity_set, _ids(keys), **options)
        return MatchesByValue(settings, urls, self.entity_set, self.field, keys, **options)


def _ids(keys: Iterable[Key]) -> list[str]:
    """The keys of a read by id, all text: as kept (checked ids stay checked)."""
    return [key if isinstance(key, str) else str(key) for key in keys]


def check_min_found(min_found: object, count: int) -> int:
    """How many keys must be found: ``min_found`` (from 1 to ``count``), or all ``count`` when ``None``."""
    if min_found is None:
        return count
    if not isinstance(min_found, int) or isinstance(min_found, bool) or not 1 <= min_found <= count:
        raise BusinessCentralQueryError(
            "min_found", f"must be a whole number from 1 to {count} (the ids or values given), got {min_found!r}"
        )
    return min_found


class Progress:
    """A wait for the keys of a :class:`BatchLookup`: what was found so far (kept: only the missing
    keys are asked again) and whether that is enough (all keys, or ``min_found`` of them)."""

    def __init__(self, lookup: BatchLookup, min_found: object = None) -> None:
        self.lookup = lookup
        self.needed = check_min_found(min_found, len(lookup.keys))
        self.found: dict[Key, Any] = {}

    def missing(self) -> list[Key]:
        """The keys not found yet, in the order given."""
        return [key for key in self.lookup.keys if key not in self.found]

    def take(self, answer: Mapping[Any, Any]) -> None:
        """Keep what a read of the missing keys found (``None`` or ``[]``: not there yet)."""
        self.found.update((key, got) for key, got in answer.items() if got)

    @property
    def done(self) -> bool:
        """Whether enough keys were found."""
        return len(self.found) >= self.needed

    def result(self) -> dict[Key, Any]:
        """Each key found: its entity (by id) or its matches (by value), in the order given."""
        return {key: self.found[key] for key in self.lookup.keys if key in self.found}

    def report(self) -> str:
        """E.g. ``itemLedgerEntries by id: 1 of 3 found; missing 2: <id>, <id>`` (at most
        :data:`~.batch.SHORTLIST` named)."""
        total = len(self.lookup.keys)
        text = f"{self.lookup.describe()}: {len(self.found)} of {total} found"
        if self.needed < total:
            text += f" ({self.needed} needed)"
        missing = self.missing()
        return f"{text}; missing {len(missing)}: {shortlist(missing)}" if missing else text
