"""Statutory imports refuse unreadable parts with 422 naming the part, read postcodes and sector
maps strictly, reject impossible dates like the API does, and report header-file rows apart."""

from datetime import timedelta

from sqlalchemy import text

from shared import clock
from tests.metrics.api_helpers import SECTOR_OF, sector_map_csv

COLUMNS = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"
HEADER_COLUMNS = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB"
SECTOR = SECTOR_OF["RES-1"]
HUGE = "x" * 200_000  # over the csv module's field limit (131072)


def episodes(*rows: str) -> bytes:
    return (COLUMNS + "\n" + "\n".join(rows) + "\n").encode()


def row(child, decom, rne="S", post=SECTOR + "AB", dec="", rec=""):
    return f"{child},{decom},{rne},C2,N1,U1,PR1,{dec},{rec},,{post},,"


async def upload(client, auth, data, smap=None, header=None, **form):
    files = {
        "episodes": ("e.csv", data, "text/csv"),
        "sector_map": ("s.csv", sector_map_csv() if smap is None else smap, "text/csv"),
    }
    if header is not None:
        files["header"] = ("h.csv", header, "text/csv")
    return await client.post(
        "/v1/imports/ssda903",
        files=files,
        data={k: str(v).lower() for k, v in form.items()},
        headers=auth("analyst"),
    )


async def upload_cin(client, auth, census: bytes, cmap=b"LAchildID,cluster\nK1,RES-1\n", **form):
    return await client.post(
        "/v1/imports/cin",
        files={
            "census": ("c.xml", census, "application/xml"),
            "child_map": ("m.csv", cmap, "text/csv"),
        },
        data={k: str(v).lower() for k, v in form.items()},
        headers=auth("analyst"),
    )


def census(*details: str) -> bytes:
    body = "".join(details)
    return (
        "<Message><Children><Child><ChildIdentifiers><LAchildID>K1</LAchildID></ChildIdentifiers>"
        f"{body}</Child></Children></Message>"
    ).encode()


def detail(referral: str, plan_start: str = "") -> str:
    plan = f"<ChildProtectionPlans><CPPstartDate>{plan_start}</CPPstartDate></ChildProtectionPlans>"
    return (
        f"<CINdetails><CINreferralDate>{referral}</CINreferralDate>{plan if plan_start else ''}</CINdetails>"
    )


async def stored(backbone) -> list[tuple[str, str]]:
    async with backbone.engines["metrics"].connect() as conn:
        rows = await conn.execute(
            text("SELECT type, occurred_on::text FROM metrics.service_records ORDER BY 1, 2")
        )
        return [tuple(r) for r in rows]


def problem(r) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body.get("field"), body.get("rule")


# 1. unreadable parts: 422 naming the part, never 500


async def test_a_header_file_that_is_not_utf8_is_refused_as_the_header_part(metrics_client, auth, backbone):
    header = b"CHILD,SEX,DOB\n\xff\xfeA,1,01/01/2010\n"
    r = await upload(metrics_client, auth, episodes(row("A", "01/04/2018")), header=header)
    assert problem(r) == (422, "body.header", "encoding")
    assert await stored(backbone) == []


async def test_an_over_long_field_in_a_map_or_header_file_refuses_that_part(metrics_client, auth):
    data = episodes(row("A", "01/04/2018"))
    r = await upload(metrics_client, auth, data, smap=f"{SECTOR},RES-1\n{HUGE},RES-1\n".encode())
    assert problem(r) == (422, "body.sector_map", "map_format")
    assert "row 2" in r.json()["detail"]
    r = await upload(metrics_client, auth, data, header=f"CHILD,SEX,DOB\n{HUGE},1,01/01/2010\n".encode())
    assert problem(r) == (422, "body.header", "file_format")
    assert "row 2" in r.json()["detail"]
    r = await upload_cin(
        metrics_client, auth, census(detail("2019-01-01")), cmap=f"K1,RES-1\n{HUGE},RES-1\n".encode()
    )
    assert problem(r) == (422, "body.child_map", "map_format")


async def test_an_over_long_field_in_an_episode_row_is_a_rejected_row(metrics_client, auth, backbone):
    data = episodes(row("A", "01/04/2018"), row(HUGE, "01/04/2018"), row("C", "01/05/2018"))
    r = await upload(metrics_client, auth, data)
    assert problem(r) == (422, "body.episodes", "file_has_errors")
    assert r.json()["report"]["rejected"] == [{"at": "row 3", "field": "*", "reason": "field_too_long"}]
    r = await upload(metrics_client, auth, data, allow_partial=True)
    assert r.status_code == 201, r.text
    assert (r.json()["rows_read"], r.json()["applied"], r.json()["rejected_count"]) == (3, 2, 1)
    # in the column-name row nothing can be read at all
    r = await upload(metrics_client, auth, f"{COLUMNS},{HUGE}\n{row('A', '01/04/2018')}\n".encode())
    assert problem(r) == (422, "body.episodes", "file_format")


# 2. postcode sectors


async def test_an_outward_code_alone_is_not_read_as_a_sector(metrics_client, auth, backbone):
    # "LS11" is a district; read as "LS1 1" it would land in another cluster
    smap = b"postcode_sector,cluster\nLS1 1,RES-1\nLS11 6,RES-2\n"
    data = episodes(row("A", "01/04/2018", post="LS11"), row("B", "01/04/2018", post="LS116AB"))
    r = await upload(metrics_client, auth, data, smap=smap, allow_partial=True)
    assert r.status_code == 201, r.text
    assert r.json()["rejected"] == [
        {"at": "row 2", "field": "HOME_POST", "reason": "missing_or_invalid_postcode"}
    ]
    async with backbone.engines["metrics"].connect() as conn:
        assert (await conn.scalar(text("SELECT cluster_code FROM metrics.service_records"))) == "RES-2"


async def test_sector_map_keys_are_normalised_like_home_post(metrics_client, auth, backbone):
    smap = b"\npostcode_sector,cluster\nls97,RES-1\nLS9  8,RES-2\n LS10 0 ,RES-3\n"
    data = episodes(
        row("A", "01/04/2018", post="LS9 7AB"),
        row("B", "01/04/2018", post="ls98ab"),
        row("C", "01/04/2018", post="LS10 0XY"),
    )
    r = await upload(metrics_client, auth, data, smap=smap)
    assert r.status_code == 201, r.text
    assert r.json()["applied"] == 3
    async with backbone.engines["metrics"].connect() as conn:
        clusters = await conn.scalars(text("SELECT cluster_code FROM metrics.service_records ORDER BY 1"))
        assert list(clusters) == ["RES-1", "RES-2", "RES-3"]


async def test_sector_map_rows_that_are_not_sectors_or_disagree_are_refused(metrics_client, auth):
    data = episodes(row("A", "01/04/2018"))
    for smap, at in (
        (b"postcode_sector,cluster\nLS9 7,RES-1\nLS9 7AB,RES-1\n", "row 3"),  # a postcode, not a sector
        (b"LS,RES-1\n", "row 1"),
        (b"LS9 7,RES-1\nls97,RES-2\n", "row 2"),  # the same sector twice, two clusters
    ):
        r = await upload(metrics_client, auth, data, smap=smap)
        assert problem(r) == (422, "body.sector_map", "map_format"), smap
        assert r.json()["detail"].startswith(at), r.json()["detail"]
    # the same sector twice with the same cluster is harmless
    r = await upload(metrics_client, auth, data, smap=f"{SECTOR},RES-1\n{SECTOR.lower()},RES-1\n".encode())
    assert r.status_code == 201, r.text


# 3. impossible dates


async def test_ssda903_dates_in_the_future_or_before_1990_are_rejected(metrics_client, auth, backbone):
    today, tomorrow = clock.today(), clock.today() + timedelta(days=1)
    data = episodes(
        row("A", "01/04/2918"),
        row("B", "01/04/0018"),
        row("C", "31/12/1989"),
        row("D", f"{tomorrow:%d/%m/%Y}"),
        row("E", "01/04/2018", dec=f"{tomorrow:%d/%m/%Y}", rec="E11"),
        row("F", f"{today:%d/%m/%Y}"),
        row("G", "01/01/1990"),
    )
    r = await upload(metrics_client, auth, data, allow_partial=True)
    assert r.status_code == 201, r.text
    assert r.json()["rejected"] == [
        {"at": "row 2", "field": "DECOM", "reason": "invalid_date: in the future"},
        {"at": "row 3", "field": "DECOM", "reason": "invalid_date: before 1990"},
        {"at": "row 4", "field": "DECOM", "reason": "invalid_date: before 1990"},
        {"at": "row 5", "field": "DECOM", "reason": "invalid_date: in the future"},
        {"at": "row 6", "field": "DEC", "reason": "invalid_date: in the future"},
    ]
    assert await stored(backbone) == [("cla_start", "1990-01-01"), ("cla_start", today.isoformat())]


async def test_the_api_refuses_the_dates_the_importers_reject(metrics_client, auth):
    for day in ("2918-04-01", "1989-12-31"):
        event = {"type": "cla_start", "cluster": "RES-1", "date": day, "child_ref": "c", "source_id": "s"}
        r = await metrics_client.post("/v1/service-events", json={"events": [event]}, headers=auth("analyst"))
        assert r.status_code == 422, day


async def test_cin_dates_in_the_future_or_with_trailing_text_are_rejected(metrics_client, auth, backbone):
    r = await upload_cin(
        metrics_client,
        auth,
        census(
            detail("2919-01-01"),
            detail("2019-01-01junk"),
            detail("2019-02-01", "2019-02-05junk"),
            detail("2019-03-01"),
        ),
        allow_partial=True,
    )
    assert r.status_code == 201, r.text
    assert r.json()["rejected"] == [
        {"at": "Child[1]/CINdetails[1]", "field": "CINreferralDate", "reason": "invalid_date: in the future"},
        {
            "at": "Child[1]/CINdetails[2]",
            "field": "CINreferralDate",
            "reason": "invalid_date: expected yyyy-mm-dd",
        },
        {
            "at": "Child[1]/CINdetails[3]/ChildProtectionPlans[1]",
            "field": "CPPstartDate",
            "reason": "invalid_date",
        },
    ]
    assert await stored(backbone) == [("referral", "2019-03-01")]


# 4. header file rows


async def test_header_rows_are_counted_apart_and_a_rejected_header_row_rejects_its_episodes(
    metrics_client, auth, backbone
):
    header = f"{HEADER_COLUMNS}\nA,1,31/02/2010,WBRI,,,\n,1,01/01/2010,,,,\nB,1,01/01/2010,,,,\n".encode()
    data = episodes(row("A", "01/04/2018"), row("B", "01/04/2018"))
    r = await upload(metrics_client, auth, data, header=header, allow_partial=True)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["header_rows_read"], report["rows_read"], report["applied"], report["rejected_count"]) == (
        3,
        2,
        1,
        3,
    )
    assert report["rejected"] == [
        {"at": "header row 2", "field": "DOB", "reason": "invalid_date: expected dd/mm/yyyy"},
        {"at": "header row 3", "field": "CHILD", "reason": "missing"},
        {"at": "row 2", "field": "CHILD", "reason": "header_row_rejected"},
    ]
    assert len(await stored(backbone)) == 1


# 5. blank lines


async def test_blank_lines_before_the_column_names_or_between_rows_are_skipped(
    metrics_client, auth, backbone
):
    data = b"\n\r\n" + episodes(row("A", "01/04/2018"), "", ",,,,,,,,,,,,", row("B", "01/05/2018"))
    header = f"\n{HEADER_COLUMNS}\nA,1,01/01/2010,,,,\n\nB,1,01/01/2010,,,,\n".encode()
    r = await upload(metrics_client, auth, data, header=header)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["rows_read"], report["header_rows_read"], report["applied"], report["rejected_count"]) == (
        2,
        2,
        2,
        0,
    )
