"""SSDA903 (children looked after return) episodes: CSV (with or without a column-name row, with or
without the separate header file) and the XML form. One pass, constant memory."""

from __future__ import annotations

import csv
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from defusedxml.ElementTree import iterparse

from services.metrics_worker.records import (
    FileFormatError,
    ImportReport,
    Pseudonymiser,
    ServiceRecord,
    date_out_of_range,
    parse_any_date,
    parse_uk_date,
    postcode_sector,
    sector_key,
)
from shared import clock

EPISODE_COLUMNS = (
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
)
HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
RNE_CODES = frozenset({"S", "L", "P", "T", "B", "U"})
SHORT_BREAK_LS = frozenset({"V3", "V4"})  # excluded from looked-after statistics
SAME_PERIOD_REC = "X1"  # episode ends but the period of care goes on
_MEMO_LIMIT = 100_000  # distinct dates / postcodes remembered; beyond it they are recomputed
_new = tuple.__new__


class DateOutOfRange(ValueError):
    """A well-formed date no record can have (see ``date_out_of_range``)."""


@dataclass
class HeaderFile:
    """The SSDA903 header file: CHILD → date of birth, and the children whose header row was
    rejected (their episodes are rejected too, rather than applied without the checks)."""

    children: dict[str, date | None] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)


class EpisodeParser:
    """Turns episode rows (dicts of column → text) into cla_start / cla_end records.

    A million-row file repeats a few thousand dates, a few hundred postcodes and each child on
    consecutive rows, so dates, postcode → cluster results and the last child's pseudonym are
    memoised: the rules still run once per distinct value."""

    def __init__(
        self,
        report: ImportReport,
        sector_map: Mapping[str, str],
        pseudonymise: Pseudonymiser,
        header: HeaderFile | None = None,
    ) -> None:
        self.report = report
        # keys as ``read_map`` normalises them, so a map built in code matches the same way
        self.sector_map = {sector_key(k) or k.upper(): v for k, v in sector_map.items()}
        self.pseudonymise = pseudonymise
        self.header = header.children if header is not None else None
        self.header_rejected: Collection[str] = header.rejected if header is not None else ()
        self.today = clock.today()  # one "today" for the whole file
        self._parse: Callable[[str], date] | None = None
        self._dates: dict[str, tuple[date, str]] = {}
        self._posts: dict[str, tuple[str, str]] = {}  # HOME_POST → (cluster, "") or ("", reason)
        self._child, self._ref = "", ""

    def _date(self, text: str, parse: Callable[[str], date]) -> tuple[date, str]:
        """(date, ISO text); raises ValueError like ``parse``, DateOutOfRange for a date no
        record can have (not memoised, so the memo only holds good dates)."""
        day = parse(text)
        problem = date_out_of_range(day, self.today)
        if problem:
            raise DateOutOfRange(problem)
        found = (day, day.isoformat())
        if len(self._dates) < _MEMO_LIMIT:
            self._dates[text] = found
        return found

    def _cluster(self, home_post: str) -> tuple[str, str]:
        sector = postcode_sector(home_post)
        if sector is None:
            found = ("", "missing_or_invalid_postcode")
        else:
            cluster = self.sector_map.get(sector)
            found = (cluster, "") if cluster is not None else ("", "unknown_postcode_sector")
        if len(self._posts) < _MEMO_LIMIT:
            self._posts[home_post] = found
        return found

    def episode(
        self,
        where: int | str,
        child: str,
        decom_text: str,
        rne: str,
        ls: str,
        dec_text: str,
        rec: str,
        home_post: str,
        parse: Callable[[str], date] = parse_uk_date,
    ) -> tuple[ServiceRecord, ...]:
        """One episode's fields (as text); ``where`` is a CSV row number or an element path."""
        report = self.report
        report.rows_read += 1
        child = child.strip()
        if not child:
            return self._reject(where, "CHILD", "missing")
        if parse is not self._parse:  # the memo holds one parser's results
            self._parse, self._dates = parse, {}
        dates = self._dates
        try:
            decom, decom_iso = dates.get(decom_text) or self._date(decom_text, parse)
        except DateOutOfRange as exc:
            return self._reject(where, "DECOM", str(exc))
        except ValueError:
            return self._reject(where, "DECOM", "invalid_date: expected dd/mm/yyyy")
        rne, ls = rne.strip().upper(), ls.strip().upper()
        if rne not in RNE_CODES:
            return self._reject(where, "RNE", "unknown_code")
        dec: date | None = None
        if dec_text.strip():
            try:
                dec = (dates.get(dec_text) or self._date(dec_text, parse))[0]
            except DateOutOfRange as exc:
                return self._reject(where, "DEC", str(exc))
            except ValueError:
                return self._reject(where, "DEC", "invalid_date: expected dd/mm/yyyy")
            if dec < decom:
                return self._reject(where, "DEC", "before_DECOM")
        if self.header is not None:
            if child not in self.header:
                if child in self.header_rejected:
                    return self._reject(where, "CHILD", "header_row_rejected")
                return self._reject(where, "CHILD", "not_in_header_file")
            dob = self.header[child]
            if dob is not None and decom < dob:
                return self._reject(where, "DECOM", "before_date_of_birth")
        short_break = ls in SHORT_BREAK_LS
        starts = rne == "S" and not short_break
        rec = rec.strip().upper()
        ends = dec is not None and rec not in ("", SAME_PERIOD_REC) and not short_break
        if not (starts or ends):
            report.ignored += 1  # a change within a period of care, or a short break
            return ()
        cluster, reason = self._posts.get(home_post) or self._cluster(home_post)
        if reason:
            return self._reject(where, "HOME_POST", reason)
        if child != self._child:  # a child's episodes sit on consecutive rows
            self._child, self._ref = child, self.pseudonymise(child)
        ref = self._ref
        # (CHILD, DECOM) identifies an episode across overlapping yearly returns. tuple.__new__
        # skips NamedTuple's Python-level constructor (a million records go through here).
        if starts and ends:
            report.records += 2
            return (
                _new(ServiceRecord, ("cla_start", cluster, decom, ref, f"903:{ref}:{decom_iso}:S")),
                _new(ServiceRecord, ("cla_end", cluster, dec, ref, f"903:{ref}:{decom_iso}:E")),
            )
        report.records += 1
        if starts:
            return (_new(ServiceRecord, ("cla_start", cluster, decom, ref, f"903:{ref}:{decom_iso}:S")),)
        return (_new(ServiceRecord, ("cla_end", cluster, dec, ref, f"903:{ref}:{decom_iso}:E")),)

    def _reject(self, where: int | str, field: str, reason: str) -> tuple[ServiceRecord, ...]:
        self.report.reject(f"row {where}" if isinstance(where, int) else where, field, reason)
        return ()

    def fields(
        self, where: int | str, row: Mapping[str, str | None], *, iso: bool = False
    ) -> tuple[ServiceRecord, ...]:
        """An episode given as a mapping of column name to text (the XML form)."""
        child, decom, rne, ls, dec, rec, post = (row.get(name) or "" for name in _FIELDS)
        parse = parse_any_date if iso else parse_uk_date
        return self.episode(where, child, decom, rne, ls, dec, rec, post, parse)


_FIELDS = ("CHILD", "DECOM", "RNE", "LS", "DEC", "REC", "HOME_POST")
_REQUIRED = ("CHILD", "DECOM", "RNE", "LS", "HOME_POST")


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str] | None]]:
    """(row number, cells), numbered like the file's lines. A row the csv module cannot read (a
    field over its size limit) comes as None: the rest of that line is dropped and reading goes
    on at the next line."""
    reader = csv.reader(lines)
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield number, None
        else:
            yield number, cells


def too_long(number: int) -> str:
    return f"row {number}: a field is longer than {csv.field_size_limit()} characters"


def read_header_file(lines: Iterable[str], report: ImportReport) -> HeaderFile:
    """CHILD → date of birth from the SSDA903 header file (checks an episode's child exists).
    Blank lines are skipped; the first other row names the columns when it starts with CHILD.
    A rejected row leaves its child out (``HeaderFile.rejected``)."""
    header = HeaderFile()
    today = clock.today()
    first = True
    for number, cells in csv_rows(lines):
        if cells is None:
            raise FileFormatError(too_long(number))
        if not any(c.strip() for c in cells):
            continue
        if first:
            first = False
            if cells[0].strip().upper() == "CHILD":
                continue
        report.header_rows_read += 1
        row = dict(zip(HEADER_COLUMNS, cells, strict=False))
        child = row.get("CHILD", "").strip()
        if not child:
            report.reject(f"header row {number}", "CHILD", "missing")
            continue
        try:
            dob = parse_uk_date(row["DOB"]) if row.get("DOB", "").strip() else None
            problem = "invalid_date: in the future" if dob is not None and dob > today else ""
        except ValueError:
            problem = "invalid_date: expected dd/mm/yyyy"
        if problem:
            report.reject(f"header row {number}", "DOB", problem)
            header.rejected.add(child)
            continue
        header.children[child] = dob
    return header


def parse_episodes_csv(lines: Iterable[str], parser: EpisodeParser) -> Iterator[ServiceRecord]:
    """Rows of the episodes file. A first row starting with CHILD names the columns; otherwise the
    standard SSDA903 column order is assumed. Positional access keeps a million rows fast. Blank
    lines (all cells empty), before the column names too, are skipped and not counted."""
    columns: tuple[str, ...] = EPISODE_COLUMNS
    pick: Callable[[list[str]], Any] | None = None
    episode = parser.episode
    rows_before = parser.report.rows_read
    for number, cells in csv_rows(lines):
        if cells is None:  # an over-long field: that row is rejected, not the file
            if pick is None:
                raise FileFormatError(too_long(number))
            parser.report.rows_read += 1
            parser.report.reject(f"row {number}", "*", "field_too_long")
            continue
        if not cells or (not cells[0].strip() and not any(c.strip() for c in cells)):
            continue  # blank line
        if pick is None:
            if cells[0].strip().upper() == "CHILD":
                columns = tuple(c.strip().upper() for c in cells)
            missing = [c for c in _REQUIRED if c not in columns]
            if missing:
                raise FileFormatError(f"missing columns: {', '.join(missing)}")
            pick = _picker(columns)
            if columns is not EPISODE_COLUMNS:
                continue
        if len(cells) != len(columns):
            parser.report.rows_read += 1
            parser.report.reject(f"row {number}", "*", f"expected {len(columns)} columns")
            continue
        yield from episode(number, *pick(cells))
    if columns is EPISODE_COLUMNS and parser.report.rows_read == rows_before:
        # no bytes, or blank lines only: the wrong file, not a return with no episodes (a file
        # with the column row and no rows is that, and is applied with nothing read)
        raise FileFormatError(EMPTY)


EMPTY = "the file is empty"
_NO_ELEMENT = 3  # expat's XML_ERROR_NO_ELEMENTS


def xml_events(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """iterparse's start and end events; a file without any element (no bytes, blank, only an XML
    declaration) is refused as empty rather than as malformed."""
    events = iterparse(stream, events=("start", "end"))
    try:
        first = next(events)
    except StopIteration:
        return
    except ParseError as exc:
        if exc.code == _NO_ELEMENT:
            raise FileFormatError(EMPTY) from None
        raise
    yield first
    yield from events


def _picker(columns: tuple[str, ...]) -> Callable[[list[str]], Any]:
    present = [columns.index(name) if name in columns else None for name in _FIELDS]
    if all(i is not None for i in present):
        return operator.itemgetter(*present)
    return lambda cells: tuple("" if i is None else cells[i] for i in present)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_episodes_xml(stream: IO[bytes], parser: EpisodeParser) -> Iterator[ServiceRecord]:
    """XML form: ``Episode`` elements holding the episode fields; ``CHILD`` may sit in the Episode
    or before it in an enclosing element (e.g. ``Child/Header/CHILD``). Dates may be ISO or
    dd/mm/yyyy. Every element outside an Episode, and each Episode once read, is detached from its
    parent so memory stays flat."""
    stack: list[Any] = []
    child_id: str | None = None
    child_path: list[Any] = []  # ancestors of the CHILD element that named the current child
    owner_depth = -1  # depth of the element holding both that CHILD and its episodes
    in_episode = False
    n = 0
    for event, element in xml_events(stream):
        name = _local(element.tag)
        if event == "start":
            if name.upper() == "EPISODE" and not in_episode:
                in_episode = True
                if child_id is not None:
                    common = 0
                    for a, b in zip(child_path, stack, strict=False):
                        if a is not b:
                            break
                        common += 1
                    owner_depth = common - 1
            stack.append(element)
            continue
        stack.pop()
        depth = len(stack)
        if name.upper() == "EPISODE":
            in_episode = False
            n += 1
            fields = {_local(e.tag).upper(): e.text for e in element}
            fields.setdefault("CHILD", child_id)
            yield from parser.fields(f"Episode[{n}]", fields, iso=True)
        elif in_episode:
            continue  # a field of the episode being read: keep it until the Episode ends
        elif name == "CHILD" and len(element) == 0:
            child_id, child_path, owner_depth = (element.text or "").strip(), list(stack), -1
        elif child_id is not None and (depth == owner_depth or depth <= len(child_path) - 2):
            child_id, child_path, owner_depth = None, [], -1  # that child's element is finished
        if stack:
            stack[-1].remove(element)
