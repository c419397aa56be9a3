"""Type stubs of dolibak.retention (the native retention planner)."""
from __future__ import annotations

import datetime
from typing import Iterable, Optional, Union

TimeLike = Union[str, int, datetime.datetime]

UNLIMITED: int

class Backup:
    key: str
    time: datetime.datetime
    half: str
    ok: bool
    verified: str  # "unknown", "good" or "failed"
    def __init__(
        self,
        key: str,
        time: TimeLike,
        half: str = "db",
        ok: bool = True,
        verified: str = "unknown",
    ) -> None: ...

class Policy:
    def __init__(
        self,
        *,
        mode: str | None = None,
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
    def mode(self) -> str: ...
    @property
    def time_zone(self) -> str: ...

class Decision:
    @property
    def key(self) -> str: ...
    @property
    def time(self) -> datetime.datetime: ...
    @property
    def half(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def verified(self) -> str: ...
    @property
    def keep(self) -> bool: ...
    @property
    def reasons(self) -> list[str]: ...
    @property
    def detail(self) -> str: ...

class Plan:
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
    now: TimeLike,
    policy: Optional[Policy] = None,
    protected: list[str] = ...,
    default_half: str = "db",
) -> Plan: ...
def backups_from_lines(text: str, default_half: str = "db") -> list[Backup]: ...
def parse_timestamp(text: str) -> datetime.datetime: ...
def format_timestamp(time: TimeLike) -> str: ...
def parse_store_key(key: str) -> Optional[dict]: ...
