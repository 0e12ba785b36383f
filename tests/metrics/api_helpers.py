"""Shared steps of the metrics API tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from tests.metrics import report_data as rd


def api_code(report_name: str) -> str:
    """Cluster codes cannot hold spaces: "RES 1" becomes "RES-1"."""
    return report_name.replace(" ", "-")


async def create_report_clusters(
    formulation_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    deliver_events: Callable[..., Any],
    extra: dict[str, date | None] | None = None,
) -> None:
    """Clusters and RES starts are set in the formulation service and reach metrics as events."""
    starts: dict[str, date | None] = {api_code(c): s for c, s in rd.res_starts().items()}
    starts.update(extra or {})
    for code, start in starts.items():
        r = await formulation_client.put(
            f"/v1/clusters/{code}",
            json={"name": f"Cluster {code}", "res_start": start.isoformat() if start else None},
            headers=auth("admin"),
        )
        assert r.status_code in (200, 201), r.text
    await deliver_events()


def report_events(measure: str) -> list[dict[str, str]]:
    return [
        {
            "type": measure,
            "cluster": api_code(cluster),
            "date": day.isoformat(),
            "child_ref": f"child-{measure}-{i}",
            "source_id": f"src-{measure}-{i}",
        }
        for i, (cluster, day) in enumerate(rd.record_days(measure))
    ]


async def post_events(
    client: httpx.AsyncClient, headers: dict[str, str], events: list[dict[str, str]]
) -> tuple[int, int]:
    accepted = duplicates = 0
    for i in range(0, len(events), 2000):
        r = await client.post("/v1/service-events", json={"events": events[i : i + 2000]}, headers=headers)
        assert r.status_code == 200, r.text
        accepted += r.json()["accepted"]
        duplicates += r.json()["duplicates"]
    return accepted, duplicates


TOL = 0.01 + 1e-9  # "within ±0.01" of a printed figure, allowing for binary floating point


def assert_matches_printed_table(body: dict[str, Any], measure: str) -> None:
    rows = {r["cluster"]: r for r in body["rows"]}
    assert len(rows) == 7
    for cluster, pm, pre, pa, qm, post, qa, diff in rd.printed_rows(measure):
        row = rows[api_code(cluster)]
        assert (row["pre_months"], row["pre_count"], row["post_months"], row["post_count"]) == (
            pm,
            pre,
            qm,
            post,
        )
        assert abs(row["pre_monthly_average"] - pa) <= TOL, (cluster, row)
        assert abs(row["post_monthly_average"] - qa) <= TOL, (cluster, row)
        assert abs(row["difference"] - diff) <= TOL, (cluster, row)
        assert row["rate_ratio_ci95"][0] < row["rate_ratio"] < row["rate_ratio_ci95"][1]
    _, _, pre, pa, _, post, qa, diff = rd.printed_total(measure)
    total = body["total"]
    assert (total["pre_count"], total["post_count"]) == (pre, post)
    printed = total["as_printed"]
    assert abs(printed["pre_monthly_average"] - pa) <= TOL
    assert abs(printed["post_monthly_average"] - qa) <= TOL
    assert abs(printed["difference"] - diff) <= TOL
    assert abs(total["pre_monthly_average"] - sum(r["pre_monthly_average"] for r in rows.values())) < 1e-9


SECTOR_OF = {api_code(c): f"LS{10 + i} {i}" for i, c in enumerate(sorted(rd.res_starts()))}


def ssda903_csv(measure: str = "cla_start") -> bytes:
    """Episodes whose CLA starts reproduce Table 2, plus rows that must not count."""
    lines = ["CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"]
    for i, (cluster, day) in enumerate(rd.record_days(measure)):
        post = SECTOR_OF[api_code(cluster)] + "AB"
        decom = day.strftime("%d/%m/%Y")
        lines.append(f"C{i},{decom},S,C2,N1,U1,PR1,,,,{post},,")
        if i % 5 == 0:  # a placement change later in the same period of care: not a start
            lines.append(f"C{i},{decom[:6]}2021,P,C2,N1,U1,PR1,,,,{post},,")
        if i % 7 == 0:  # a short break: excluded
            lines.append(f"SB{i},{decom},S,V3,N1,U1,PR1,,,,{post},,")
    return ("\n".join(lines) + "\n").encode()


def sector_map_csv() -> bytes:
    return ("postcode_sector,cluster\n" + "".join(f"{s},{c}\n" for c, s in SECTOR_OF.items())).encode()


def cin_xml(measure: str = "cp_plan_start") -> tuple[bytes, bytes]:
    """A CIN census whose CP plan starts reproduce Table 1, and its child -> cluster map."""
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?><Message><Children>')
    cmap = ["LAchildID,cluster"]
    for i, (cluster, day) in enumerate(rd.record_days(measure)):
        out.write(
            f"<Child><ChildIdentifiers><LAchildID>K{i}</LAchildID></ChildIdentifiers>"
            f"<CINdetails><CINreferralDate>{day.isoformat()}</CINreferralDate>"
            f"<ChildProtectionPlans><CPPstartDate>{day.isoformat()}</CPPstartDate>"
            "</ChildProtectionPlans></CINdetails></Child>"
        )
        cmap.append(f"K{i},{api_code(cluster)}")
    out.write("</Children></Message>")
    return out.getvalue().encode(), ("\n".join(cmap) + "\n").encode()
