"""CIN census XML: referrals, re-referrals within 12 months and child protection plans.

Streams with defusedxml's iterparse, one ``Child`` element at a time. The census holds no address,
so each child is placed in a cluster through the LA's child → cluster map.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import IO, Any

from services.metrics_worker.imports.ssda903 import xml_events
from services.metrics_worker.months import add_months
from services.metrics_worker.records import (
    ImportReport,
    Pseudonymiser,
    RecordType,
    ServiceRecord,
    date_out_of_range,
    parse_any_date,
)
from shared import clock


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: Any, name: str) -> Any:
    for e in element.iter():
        if _local(e.tag) == name:
            return e
    return None


def _children(element: Any, name: str) -> list[Any]:
    return [e for e in element if _local(e.tag) == name]


def _text(element: Any, name: str) -> str:
    found = _find(element, name)
    return (found.text or "").strip() if found is not None else ""


PLAN_FIELDS: tuple[tuple[str, RecordType], ...] = (
    ("CPPstartDate", "cp_plan_start"),
    ("CPPendDate", "cp_plan_end"),
)


def is_re_referral(previous: date | None, referral: date) -> bool:
    """A referral within 12 months of the child's previous referral."""
    return previous is not None and previous < referral <= add_months(previous, 12)


class CinParser:
    def __init__(
        self, report: ImportReport, child_map: Mapping[str, str], pseudonymise: Pseudonymiser
    ) -> None:
        self.report = report
        self.child_map = child_map
        self.pseudonymise = pseudonymise
        self.today = clock.today()  # one "today" for the whole file

    def child(self, index: int, element: Any) -> list[ServiceRecord]:
        report = self.report
        details = _children(element, "CINdetails")
        report.rows_read += len(details)
        where = f"Child[{index}]"
        local_id = _text(element, "LAchildID")
        if not local_id:
            for _ in details:
                report.reject(where, "LAchildID", "missing")
            return []
        cluster = self.child_map.get(local_id)
        if cluster is None:
            for _ in details:
                report.reject(where, "LAchildID", "not_in_child_cluster_map")
            return []
        ref = self.pseudonymise(local_id)
        out: list[ServiceRecord] = []
        referrals: set[date] = set()
        for j, detail in enumerate(details, start=1):
            at = f"{where}/CINdetails[{j}]"
            try:
                referred = parse_any_date(_text(detail, "CINreferralDate"))
            except ValueError:
                report.reject(at, "CINreferralDate", "invalid_date: expected yyyy-mm-dd")
                continue
            problem = date_out_of_range(referred, self.today)
            if problem:
                report.reject(at, "CINreferralDate", problem)
                continue
            plans: list[ServiceRecord] = []
            bad = False
            for k, plan in enumerate(_children(detail, "ChildProtectionPlans"), start=1):
                for field, kind in PLAN_FIELDS:
                    raw = _text(plan, field)
                    if not raw:
                        continue
                    try:
                        day = parse_any_date(raw)
                        problem = date_out_of_range(day, self.today)
                    except ValueError:
                        problem = "invalid_date"
                    if problem:
                        report.reject(f"{at}/ChildProtectionPlans[{k}]", field, problem)
                        bad = True
                        break
                    plans.append(ServiceRecord(kind, cluster, day, ref, f"cin:{ref}:{kind}:{day}"))
                if bad:
                    break
            if bad:
                continue
            referrals.add(referred)
            out.append(ServiceRecord("referral", cluster, referred, ref, f"cin:{ref}:referral:{referred}"))
            out.extend(plans)
        previous: date | None = None
        for day in sorted(referrals):
            if is_re_referral(previous, day):
                out.append(ServiceRecord("re_referral", cluster, day, ref, f"cin:{ref}:re_referral:{day}"))
            previous = day
        report.records += len(out)
        return out


def parse_cin_xml(stream: IO[bytes], parser: CinParser) -> Iterator[ServiceRecord]:
    """One ``Child`` element at a time; each is detached from its parent once read. A census with no
    Child is a valid (empty) return; a file with no element at all is refused as empty."""
    stack: list[Any] = []
    n = 0
    for event, element in xml_events(stream):
        if event == "start":
            stack.append(element)
            continue
        stack.pop()
        if _local(element.tag) == "Child":
            n += 1
            yield from parser.child(n, element)
            if stack:
                stack[-1].remove(element)
