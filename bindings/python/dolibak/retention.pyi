"""Type stubs of dolibak.retention (the native retention planner)."""
from __future__ import annotations

import datetime
from typing import Any, Iterable, Literal, Optional, Union

class _pybind11_type(type):
    """The metaclass pybind11 gives the classes of the extension."""


_TimeLike = Union[str, int, datetime.datetime]
_Verified = Literal["unknown", "good", "failed"]
_Mode = Literal["tiered", "count"]
_Reason = Literal["daily", "monthly", "yearly", "last", "hourly", "day", "week", "month", "year",
                 "oldest", "empty-policy", "newest-success", "protected", "future",
                 "failed-recent"]

UNLIMITED: int

class Backup(metaclass=_pybind11_type):
    key: str
    time: datetime.datetime
    half: str
    ok: bool
    verified: _Verified
    def __init__(
        self,
        key: str,
        time: _TimeLike,
        half: str = "db",
        ok: bool = True,
        verified: _Verified = "unknown",
    ) -> None: ...

class Policy(metaclass=_pybind11_type):
    def __init__(
        self,
        *,
        mode: _Mode | None = None,
        daily_days: int | None = None,
        monthly_months: int | None = None,
        yearly_years: int | None = None,
        keep_last: int | None = None,
        keep_hourly: int | None = None,
        keep_daily: int | None = None,
        keep_weekly: int | None = None,
        keep_monthly: int | None = None,
        keep_yearly: int | None = None,
        keep_oldest_if_unfilled: bool | None = None,
        time_zone: str | None = None,
    ) -> None: ...
    @property
    def mode(self) -> _Mode: ...
    @property
    def time_zone(self) -> str: ...

class Decision(metaclass=_pybind11_type):
    @property
    def key(self) -> str: ...
    @property
    def time(self) -> datetime.datetime: ...
    @property
    def half(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def verified(self) -> _Verified: ...
    @property
    def keep(self) -> bool: ...
    @property
    def reasons(self) -> list[_Reason]: ...
    @property
    def detail(self) -> str: ...

class Plan(metaclass=_pybind11_type):
    @property
    def decisions(self) -> list[Decision]: ...
    @property
    def kept(self) -> list[Decision]: ...
    @property
    def dropped(self) -> list[Decision]: ...
    @property
    def drop_keys(self) -> list[str]: ...
    @property
    def counts(self) -> dict[str, int]: ...
    @property
    def now(self) -> datetime.datetime: ...
    def to_json(self) -> str: ...
    def __len__(self) -> int: ...

def plan(
    backups: Iterable[Union[Backup, str]],
    now: _TimeLike,
    policy: Optional[Policy] = None,
    protected: list[str] = ...,
    default_half: str = "db",
) -> Plan: ...
def backups_from_lines(text: str, default_half: str = "db") -> list[Backup]: ...
def parse_timestamp(text: str) -> datetime.datetime: ...
def format_timestamp(time: _TimeLike) -> str: ...
def parse_store_key(key: str) -> Optional[dict[str, Any]]: ...
