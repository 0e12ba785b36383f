"""File imports over HTTP and the CLI: refusal, partial application, overlap, bad files."""

import argparse
import json

import pytest
from sqlalchemy import text

from services.metrics_worker.cli import register, run_import
from services.metrics_worker.settings import Settings
from tests.metrics.api_helpers import SECTOR_OF, sector_map_csv

HEADER = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"
SECTOR = SECTOR_OF["RES-1"]
BOMB = b'<!DOCTYPE m [<!ENTITY a "x">]><Message>&a;</Message>'


def episodes(*rows):
    return (HEADER + "\n" + "\n".join(rows) + "\n").encode()


def row(child, decom, rne="S", ls="C2", post=SECTOR + "AB"):
    return f"{child},{decom},{rne},{ls},N1,U1,PR1,,,,{post},,"


async def _upload(client, auth, data, **form):
    return await client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("e.csv", data, "text/csv"),
            "sector_map": ("s.csv", sector_map_csv(), "text/csv"),
        },
        data={k: str(v).lower() for k, v in form.items()},
        headers=auth("analyst"),
    )


async def _records(backbone):
    async with backbone.engines["metrics"].connect() as conn:
        return await conn.scalar(text("SELECT count(*) FROM metrics.service_records"))


async def test_a_file_with_errors_is_refused_unless_partial_is_asked(metrics_client, auth, backbone):
    data = episodes(
        row("A", "01/04/2018"),
        row("B", "2018-04-01"),  # bad date
        row("C", "01/05/2018", post="BD1 1AA"),  # unknown postcode sector
        row("D", "01/06/2018", rne="T"),  # not a start
        row("E", "01/06/2018", ls="V4"),  # short break
    )
    r = await _upload(metrics_client, auth, data)
    assert r.status_code == 422
    problem = r.json()
    assert problem["rule"] == "file_has_errors"
    assert problem["report"]["rejected"] == [
        {"at": "row 3", "field": "DECOM", "reason": "invalid_date: expected dd/mm/yyyy"},
        {"at": "row 4", "field": "HOME_POST", "reason": "unknown_postcode_sector"},
    ]
    assert await _records(backbone) == 0  # nothing half-written
    r = await _upload(metrics_client, auth, data, allow_partial=True)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["status"], report["rows_read"], report["applied"], report["ignored"]) == (
        "partial",
        5,
        1,
        2,
    )
    assert await _records(backbone) == 1
    r = await metrics_client.get(f"/v1/imports/{report['import_id']}", headers=auth("analyst"))
    assert r.json()["rejected_count"] == 2
    r = await metrics_client.get(f"/v1/imports/{report['import_id']}", headers=auth("practitioner"))
    assert r.status_code == 403


async def test_overlapping_yearly_returns_count_each_episode_once(metrics_client, auth, backbone):
    year1 = episodes(row("A", "01/04/2018"), row("B", "01/02/2019"))
    year2 = episodes(row("B", "01/02/2019"), row("C", "01/06/2019"))
    assert (await _upload(metrics_client, auth, year1)).json()["applied"] == 2
    r = (await _upload(metrics_client, auth, year2)).json()
    assert (r["applied"], r["duplicates"]) == (1, 1)
    assert await _records(backbone) == 3


async def test_xml_form_and_header_file(metrics_client, auth, backbone):
    xml = f"""<?xml version="1.0"?><Message><Children>
      <Child><Header><CHILD>A</CHILD><DOB>01/01/2010</DOB></Header><Episodes>
        <Episode><DECOM>2018-04-01</DECOM><RNE>S</RNE><LS>C2</LS><HOME_POST>{SECTOR}</HOME_POST></Episode>
      </Episodes></Child></Children></Message>""".encode()
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("e.xml", xml, "application/xml"),
            "sector_map": ("s.csv", sector_map_csv(), "text/csv"),
        },
        data={"format": "xml"},
        headers=auth("analyst"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["applied"] == 1
    header = b"CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nB,1,01/01/2012,WBRI,,,\n"
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("e.csv", episodes(row("B", "01/04/2018"), row("Z", "01/04/2018")), "text/csv"),
            "header": ("h.csv", header, "text/csv"),
            "sector_map": ("s.csv", sector_map_csv(), "text/csv"),
        },
        data={"allow_partial": "true"},
        headers=auth("analyst"),
    )
    assert r.json()["applied"] == 1
    assert r.json()["rejected"] == [{"at": "row 3", "field": "CHILD", "reason": "not_in_header_file"}]


async def test_unreadable_files_are_refused_with_the_part_named(metrics_client, auth, backbone):
    r = await _upload(metrics_client, auth, b"\xff\xfe\x00bad")
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "body.episodes", "encoding")
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("e.csv", episodes(row("A", "01/04/2018")), "text/csv"),
            "sector_map": ("s.csv", b"LS1 1,RES 1 with spaces\n", "text/csv"),
        },
        headers=auth("analyst"),
    )
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "body.sector_map", "map_format")
    r = await metrics_client.post(
        "/v1/imports/cin",
        files={
            "census": ("c.xml", b"<Message><Children><Child>", "application/xml"),
            "child_map": ("m.csv", b"K1,RES-1\n", "text/csv"),
        },
        headers=auth("analyst"),
    )
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "body.census", "malformed_xml")
    r = await metrics_client.post(
        "/v1/imports/cin",
        files={
            "census": ("c.xml", BOMB, "application/xml"),
            "child_map": ("m.csv", b"K1,RES-1\n", "text/csv"),
        },
        headers=auth("analyst"),
    )
    assert (r.status_code, r.json()["rule"]) == (422, "malformed_xml")
    assert await _records(backbone) == 0


async def test_cli_import_applies_and_refuses_like_the_api(tmp_path, servers, backbone):
    settings = Settings(database_url=servers.database_url, data_dir=tmp_path)
    (tmp_path / "s.csv").write_bytes(sector_map_csv())
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(episodes(row("A", "01/04/2018"), row("B", "01/05/2018")))
    bad.write_bytes(episodes(row("C", "01/04/2018"), row("D", "31/04/2018")))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))

    def args(*argv):
        return parser.parse_args(["import", *argv])

    code, out = await run_import(
        args("ssda903", str(good), "--sector-map", str(tmp_path / "s.csv")), settings
    )
    assert (code, out["applied"], out["status"]) == (0, 2, "applied")
    code, out = await run_import(args("ssda903", str(bad), "--sector-map", str(tmp_path / "s.csv")), settings)
    assert code == 1
    assert out["rejected"][0]["field"] == "DECOM"
    assert await _records(backbone) == 2
    code, out = await run_import(
        args("ssda903", str(bad), "--sector-map", str(tmp_path / "s.csv"), "--allow-partial"), settings
    )
    assert (code, out["applied"]) == (0, 1)
    assert json.dumps(out, default=str)
    async with backbone.engines["metrics"].connect() as conn:
        actor = await conn.scalar(text("SELECT DISTINCT actor FROM metrics.audit_log"))
    assert actor.startswith("cli:")


def _census(*children):
    body = "".join(
        f"<Child><ChildIdentifiers><LAchildID>{k}</LAchildID></ChildIdentifiers>"
        + "".join(f"<CINdetails><CINreferralDate>{d}</CINreferralDate></CINdetails>" for d in dates)
        + "</Child>"
        for k, dates in children
    )
    return f"<Message><Children>{body}</Children></Message>".encode()


async def _cin(client, auth, census):
    r = await client.post(
        "/v1/imports/cin",
        files={
            "census": ("c.xml", census, "application/xml"),
            "child_map": ("m.csv", b"LAchildID,cluster\nK1,RES-1\nK2,RES-2\n", "text/csv"),
        },
        headers=auth("analyst"),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_cin_re_referral_against_a_referral_from_an_earlier_yearly_file(metrics_client, auth, backbone):
    first = await _cin(metrics_client, auth, _census(("K1", ["2018-03-01"]), ("K2", ["2018-01-10"])))
    assert (first["applied"], first["re_referrals_across_files"]) == (2, 0)
    # next year's return repeats the 2018 referral of K1 (overlap) and adds a new one
    second = await _cin(
        metrics_client,
        auth,
        _census(("K1", ["2018-03-01", "2019-01-15"]), ("K2", ["2019-06-01"])),
    )
    # K1: 2019-01-15 is within 12 months of 2018-03-01, found within the file itself;
    # K2: 2019-06-01 is more than 12 months after 2018-01-10, so not a re-referral
    assert (second["applied"], second["duplicates"]) == (3, 1)
    third = await _cin(metrics_client, auth, _census(("K2", ["2020-02-01"])))
    assert third["re_referrals_across_files"] == 1  # K2's previous referral: 2019-06-01
    async with backbone.engines["metrics"].connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT cluster_code, occurred_on::text FROM metrics.service_records "
                "WHERE type = 're_referral' ORDER BY occurred_on"
            )
        )
        assert [tuple(r) for r in rows] == [("RES-1", "2019-01-15"), ("RES-2", "2020-02-01")]
        counts = await conn.scalar(
            text("SELECT sum(count) FROM metrics.monthly_counts WHERE measure = 're_referral'")
        )
    assert counts == 2


async def test_cin_re_referrals_do_not_depend_on_the_order_files_arrive(metrics_client, auth, backbone):
    """Last year's return imported after this year's still makes this year's referral a
    re-referral, and a recompute keeps it."""

    async def re_referrals() -> list[str]:
        async with backbone.engines["metrics"].connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT occurred_on::text FROM metrics.service_records "
                    "WHERE type = 're_referral' ORDER BY 1"
                )
            )
            return [r[0] for r in rows]

    newer = await _cin(metrics_client, auth, _census(("K1", ["2020-02-01"]), ("K2", ["2020-05-01"])))
    assert newer["re_referrals_across_files"] == 0
    # K1's 2019 referral is within 12 months before 2020-02-01; K2's is 13 months before.
    older = await _cin(metrics_client, auth, _census(("K1", ["2019-06-01"]), ("K2", ["2019-04-01"])))
    assert older["re_referrals_across_files"] == 1
    assert await re_referrals() == ["2020-02-01"]
    # Sending either file again changes nothing.
    again = await _cin(metrics_client, auth, _census(("K1", ["2020-02-01"]), ("K2", ["2020-05-01"])))
    assert (again["applied"], again["re_referrals_across_files"]) == (0, 0)
    r = await metrics_client.post("/v1/recompute", params={"wait": "true"}, headers=auth("scheduler"))
    assert r.json()["identical_to_incremental"] is True
    assert await re_referrals() == ["2020-02-01"]
    table = await metrics_client.get(
        "/v1/metrics/series",
        params={"cluster": "RES-1", "measure": "re_referral", "from": "2020-01", "to": "2020-03"},
        headers=auth("analyst"),
    )
    assert [m["count"] for m in table.json()["months"]] == [0, 1, 0]


async def _cin_upload(client, auth, census):
    return await client.post(
        "/v1/imports/cin",
        files={
            "census": ("c.xml", census, "application/xml"),
            "child_map": ("m.csv", b"LAchildID,cluster\nK1,RES-1\n", "text/csv"),
        },
        headers=auth("analyst"),
    )


async def test_an_empty_file_is_refused_not_reported_as_imported(metrics_client, auth, backbone):
    for data in (b"", b"\n\r\n  \n"):
        r = await _upload(metrics_client, auth, data)
        assert r.status_code == 422, r.text
        assert (r.json()["field"], r.json()["rule"]) == ("body.episodes", "file_format")
        assert r.json()["detail"] == "the file is empty"
        r = await _upload(metrics_client, auth, data, format="xml")
        assert (r.status_code, r.json()["rule"], r.json()["detail"]) == (
            422,
            "file_format",
            "the file is empty",
        )
        r = await _cin_upload(metrics_client, auth, data)
        assert (r.status_code, r.json()["rule"], r.json()["detail"]) == (
            422,
            "file_format",
            "the file is empty",
        )
    r = await _cin_upload(metrics_client, auth, b'<?xml version="1.0"?>\n')
    assert (r.status_code, r.json()["rule"]) == (422, "file_format")
    assert await _records(backbone) == 0
    # A well-formed file that holds nothing (a column row only, a census without children) is a
    # valid return: applied, and its report says that nothing was read.
    r = await _upload(metrics_client, auth, episodes())
    assert (r.status_code, r.json()["rows_read"], r.json()["applied"]) == (201, 0, 0)
    r = await _cin_upload(metrics_client, auth, b"<Message><Children></Children></Message>")
    assert (r.status_code, r.json()["rows_read"], r.json()["applied"]) == (201, 0, 0)


def _cli_parser():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser


async def test_cli_refuses_missing_files_and_empty_files_with_one_json_line(tmp_path, servers, backbone):
    settings = Settings(database_url=servers.database_url, data_dir=tmp_path)
    (tmp_path / "s.csv").write_bytes(sector_map_csv())
    (tmp_path / "empty.csv").write_bytes(b"")
    parser = _cli_parser()

    async def run(*argv):
        return await run_import(parser.parse_args(["import", *argv]), settings)

    code, out = await run("ssda903", str(tmp_path / "nope.csv"), "--sector-map", str(tmp_path / "s.csv"))
    assert (code, out["status"], out["field"], out["rule"]) == (2, "refused", "episodes", "file_not_found")
    code, out = await run("ssda903", str(tmp_path), "--sector-map", str(tmp_path / "s.csv"))
    assert (code, out["field"], out["rule"]) == (2, "episodes", "not_a_file")
    code, out = await run("ssda903", str(tmp_path / "empty.csv"), "--sector-map", str(tmp_path / "nope.csv"))
    assert (code, out["field"], out["rule"]) == (2, "sector_map", "file_not_found")
    code, out = await run(
        "ssda903",
        str(tmp_path / "empty.csv"),
        "--sector-map",
        str(tmp_path / "s.csv"),
        "--header",
        str(tmp_path / "h.csv"),
    )
    assert (code, out["field"], out["rule"]) == (2, "header", "file_not_found")
    code, out = await run("cin", str(tmp_path / "c.xml"), "--child-map", str(tmp_path / "s.csv"))
    assert (code, out["field"], out["rule"]) == (2, "census", "file_not_found")
    code, out = await run("ssda903", str(tmp_path / "empty.csv"), "--sector-map", str(tmp_path / "s.csv"))
    assert (code, out["field"], out["rule"], out["message"]) == (
        2,
        "episodes",  # named as the argument, as the API names its part
        "file_format",
        "the file is empty",
    )
    assert await _records(backbone) == 0


def test_cli_command_prints_a_refusal_as_one_json_document_with_rc_2(tmp_path, capsys, monkeypatch):
    from shared.cli import main

    # refused before any database is looked for
    for var in ("DATABASE_URL", "RETHINK_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RETHINK_DATA_DIR", str(tmp_path))
    code = main(["import", "ssda903", str(tmp_path / "nope.csv"), "--sector-map", str(tmp_path / "s.csv")])
    captured = capsys.readouterr()
    assert code == 2
    refusal = json.loads(captured.err)
    assert (refusal["field"], refusal["rule"]) == ("episodes", "file_not_found")
    assert "Traceback" not in captured.err
    assert not (tmp_path / "pg").exists()


async def test_cli_import_will_not_make_a_new_pseudonym_key_over_held_records(tmp_path, servers, backbone):
    first, other = tmp_path / "data-a", tmp_path / "data-b"
    (tmp_path / "s.csv").write_bytes(sector_map_csv())
    good = tmp_path / "good.csv"
    good.write_bytes(episodes(row("A", "01/04/2018"), row("B", "01/05/2018")))
    argv = ["import", "ssda903", str(good), "--sector-map", str(tmp_path / "s.csv")]
    args = _cli_parser().parse_args(argv)
    code, out = await run_import(args, Settings(database_url=servers.database_url, data_dir=first))
    assert (code, out["applied"]) == (0, 2)
    assert (first / "metrics_pseudonym_key").exists()
    # the same file from a folder without that key (another data folder, a deleted key file)
    code, out = await run_import(args, Settings(database_url=servers.database_url, data_dir=other))
    assert (code, out["status"], out["rule"]) == (2, "refused", "pseudonym_key_missing")
    assert "RETHINK_METRICS_PSEUDONYM_KEY" in out["message"]
    assert not (other / "metrics_pseudonym_key").exists()
    assert await _records(backbone) == 2  # not counted twice
    # with the key given, the same children get the same pseudonyms: duplicates, not new records
    key = (first / "metrics_pseudonym_key").read_text().strip()
    settings = Settings(database_url=servers.database_url, data_dir=other, pseudonym_key=key)
    code, out = await run_import(args, settings)
    assert (code, out["applied"], out["duplicates"]) == (0, 0, 2)
    assert await _records(backbone) == 2


def test_cli_import_without_database_url_uses_the_embedded_server_of_rethink_dev(
    tmp_path, servers, backbone, capsys, monkeypatch
):
    """No DATABASE_URL: the import attaches to (or starts) the embedded PostgreSQL in the data folder,
    migrates it, and lets go of it after. The real pgserver start is replaced by this run's server."""
    from shared import embedded
    from shared.cli import main
    from tests.support import in_thread

    started: list[object] = []

    class Handle:
        cleaned = False

        def cleanup(self):
            Handle.cleaned = True

    def fake_start(pgdata):
        started.append(pgdata)
        return Handle(), servers.database_url

    for var in ("DATABASE_URL", "RETHINK_DATABASE_URL", "RETHINK_METRICS_PSEUDONYM_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RETHINK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(embedded, "start_postgres", fake_start)
    (tmp_path / "s.csv").write_bytes(sector_map_csv())
    good = tmp_path / "good.csv"
    good.write_bytes(episodes(row("A", "01/04/2018")))
    code = in_thread(main, ["import", "ssda903", str(good), "--sector-map", str(tmp_path / "s.csv")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert json.loads(out)["applied"] == 1
    assert started == [(tmp_path / "data").resolve() / "pg"]  # the folder `rethink dev` uses
    assert Handle.cleaned


PARTNER_EVENT = {
    "type": "cla_start",
    "cluster": "RES-1",
    "date": "2018-04-01",
    "child_ref": "p1",
    "source_id": "k1",
}


@pytest.fixture
def lost_key_file(apps):
    """The metrics API's development key file taken away for the test (a data folder lost, or
    another one), and put back after it."""
    key_file = apps["metrics"].state.settings.pseudonym_key_file
    kept = key_file.read_bytes() if key_file.exists() else None
    key_file.unlink(missing_ok=True)
    yield key_file
    if kept is not None:
        key_file.write_bytes(kept)


async def _post_partner_event(client, auth, **changes):
    event = {**PARTNER_EVENT, **changes}
    return await client.post("/v1/service-events", json={"events": [event]}, headers=auth("partner_system"))


async def test_the_api_will_not_make_a_new_pseudonym_key_over_held_records(
    metrics_client, auth, backbone, lost_key_file
):
    r = await _post_partner_event(metrics_client, auth)  # keyed with a key made for it
    assert r.status_code == 200, r.text
    key_file = lost_key_file
    key_file.unlink()  # and that key lost in turn
    r = await _post_partner_event(metrics_client, auth, source_id="k2")
    assert (r.status_code, r.json()["rule"]) == (503, "pseudonym_key_missing")
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await metrics_client.post(
        "/v1/imports/ssda903",
        files={
            "episodes": ("e.csv", episodes(row("A", "01/04/2018")), "text/csv"),
            "sector_map": ("s.csv", sector_map_csv(), "text/csv"),
        },
        headers=auth("analyst"),
    )
    assert (r.status_code, r.json()["rule"]) == (503, "pseudonym_key_missing")
    assert not key_file.exists()
    assert await _records(backbone) == 1


async def test_records_made_from_events_do_not_stop_a_first_key(
    metrics_client, auth, backbone, lost_key_file
):
    # a fresh development system: referrals have flowed in as events (ids, not pseudonyms), and
    # nothing has been imported yet, so no key exists
    async with backbone.engines["metrics"].begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO metrics.service_records (source_id, type, cluster_code, occurred_on, child_ref) "
                "VALUES ('event:r1', 'res_referral_received', 'RES-1', '2018-04-01', 'referral:r1')"
            )
        )
    r = await _post_partner_event(metrics_client, auth)
    assert r.status_code == 200, r.text
    assert lost_key_file.exists()
