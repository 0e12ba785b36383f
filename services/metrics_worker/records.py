"""Service records (the raw facts the series are counted from) and import reports."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, NamedTuple

RecordType = Literal[
    "contact", "referral", "re_referral", "cp_plan_start", "cp_plan_end", "cla_start", "cla_end"
]
RECORD_TYPES: tuple[RecordType, ...] = (
    "contact",
    "referral",
    "re_referral",
    "cp_plan_start",
    "cp_plan_end",
    "cla_start",
    "cla_end",
)

MAX_REJECTIONS_LISTED = 1000  # a report on a million bad rows must stay small


class ServiceRecord(NamedTuple):
    """A NamedTuple, not a dataclass: a million-row import makes one per row and COPYs it as is."""

    type: str  # a RecordType from files and partners, a res_* measure from events
    cluster: str
    date: date
    child_ref: str
    source_id: str


class FileFormatError(ValueError):
    """The file as a whole cannot be read (e.g. a required column is missing)."""


@dataclass(frozen=True)
class Rejection:
    location: str  # "row 12" or "Child[3]/CINdetails[1]/CINreferralDate"
    field: str
    reason: str


@dataclass
class ImportReport:
    rows_read: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0  # well-formed rows that are not a counted event (e.g. RNE other than S)
    rejected_count: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    records: int = 0  # records produced from the rows (one row can give a start and an end)
    re_referrals_across_files: int = 0  # CIN: found against referrals of other files, either order
    header_rows_read: int = 0  # SSDA903 header file rows; their rejections are in rejected_count

    def reject(self, location: str, field_name: str, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTIONS_LISTED:
            self.rejected.append(Rejection(location, field_name, reason))


Pseudonymiser = Callable[[str], str]


def keyed_pseudonymiser(key: bytes, namespace: str) -> Pseudonymiser:
    """Stable pseudonym of a local child id: HMAC-SHA256, irreversible without the key."""

    base = hmac.new(key, f"{namespace}:".encode(), hashlib.sha256)

    def pseudonym(local_id: str) -> str:
        mac = base.copy()  # cheaper than keying a new HMAC per row
        mac.update(local_id.encode())
        return mac.hexdigest()[:32]

    return pseudonym


def parse_uk_date(text: str) -> date:
    """``dd/mm/yyyy`` (the SSDA903 format); raises ValueError on anything else.

    Hand-rolled because strptime was 40% of the time of a million-row import."""
    s = text.strip()
    digits = s[:2] + s[3:5] + s[6:]
    if len(s) != 10 or s[2] != "/" or s[5] != "/" or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not a dd/mm/yyyy date: {text!r}")
    return date(int(s[6:]), int(s[3:5]), int(s[:2]))


def parse_any_date(text: str) -> date:
    """ISO ``yyyy-mm-dd`` (XML forms) or ``dd/mm/yyyy``; nothing may follow the day."""
    s = text.strip()
    if "/" in s:
        return parse_uk_date(s)
    digits = s[:4] + s[5:7] + s[8:]
    if len(s) != 10 or s[4] != "-" or s[7] != "-" or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not a yyyy-mm-dd date: {text!r}")
    return date(int(s[:4]), int(s[5:7]), int(s[8:]))


# The floor POST /v1/service-events applies (series/schemas.py), so a file cannot store a date
# the API refuses.
EARLIEST_RECORD_YEAR = 1990


def date_out_of_range(day: date, today: date) -> str | None:
    """Why a record date is impossible (after ``today``, or before 1990), or None."""
    if day > today:
        return "invalid_date: in the future"
    if day.year < EARLIEST_RECORD_YEAR:
        return f"invalid_date: before {EARLIEST_RECORD_YEAR}"
    return None


# Outward codes: A9, A99, A9A, AA9, AA99, AA9A. The inward code is always digit + two letters,
# so a postcode without its space still splits; an outward code alone ("LS11") has no sector.
_OUTWARD = "(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)"  # GIR 0AA: the one postcode outside the pattern
_SPACED = re.compile(rf"^({_OUTWARD}) ([0-9])(?:[A-Z]{{2}})?$")  # LS9 7AB, or the sector LS9 7
_UNSPACED = re.compile(rf"^({_OUTWARD})([0-9])[A-Z]{{2}}$")  # LS97AB
_SECTOR = re.compile(rf"^({_OUTWARD}) ?([0-9])$")


def postcode_sector(postcode: str) -> str | None:
    """``LS9 7AB`` / ``LS9 7`` / ``ls97ab`` → ``LS9 7``; None when no sector can be read.

    A single token must be a whole postcode: ``LS97`` could be the sector ``LS9 7`` or the
    district ``LS97``, and ``LS11`` is a district, not ``LS1 1``."""
    text = " ".join(postcode.upper().split())
    found = (_SPACED if " " in text else _UNSPACED).match(text)
    return f"{found[1]} {found[2]}" if found else None


def sector_key(text: str) -> str | None:
    """A sector as written in a sector map (``LS9 7``, ``ls97``, ``LS9  7``) → ``LS9 7``; None
    when it is not a sector. A map lists sectors, so a missing space goes before the last digit."""
    found = _SECTOR.match(" ".join(text.upper().split()))
    return f"{found[1]} {found[2]}" if found else None


def collect_unique(
    records: Iterable[ServiceRecord], report: ImportReport, seen: set[str]
) -> list[ServiceRecord]:
    """In-memory sink (dry runs and tests): a source id already in ``seen`` is a duplicate."""
    out = []
    for record in records:
        if record.source_id in seen:
            report.duplicates += 1
            continue
        seen.add(record.source_id)
        report.applied += 1
        out.append(record)
    return out
