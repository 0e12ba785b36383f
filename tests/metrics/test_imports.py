import io
from datetime import date

import pytest

from services.metrics_worker.imports.cin import CinParser, is_re_referral, parse_cin_xml
from services.metrics_worker.imports.ssda903 import (
    EpisodeParser,
    parse_episodes_csv,
    parse_episodes_xml,
    read_header_file,
)
from services.metrics_worker.records import (
    ImportReport,
    collect_unique,
    keyed_pseudonymiser,
    parse_any_date,
    postcode_sector,
    sector_key,
)

PSEUDO = keyed_pseudonymiser(b"test-key", "ssda903")
SECTORS = {"LS9 7": "RES 3", "LS14 1": "RES 2"}
COLUMNS = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"


def ep(child, decom, rne="S", ls="C2", dec="", rec="", post="LS9 7AB"):
    return f"{child},{decom},{rne},{ls},N1,U1,PR1,{dec},{rec},,{post},LS1 1,SC1"


def run_csv(lines, header=None, seen=None):
    report = ImportReport()
    parser = EpisodeParser(report, SECTORS, PSEUDO, header)
    records = collect_unique(parse_episodes_csv(lines, parser), report, set() if seen is None else seen)
    return records, report


def test_only_rne_s_outside_short_breaks_is_a_cla_start():
    records, report = run_csv(
        [
            COLUMNS,
            ep("A1", "03/04/2018"),
            ep("A1", "10/05/2018", rne="P"),
            ep("A2", "01/06/2018", rne="L", ls="C2"),
            ep("A3", "02/06/2018", ls="V3"),
            ep("A4", "02/06/2018", ls="V4"),
            ep("A5", "15/07/2019", post="LS14 1XY"),
        ]
    )
    assert [(r.type, r.cluster, r.date) for r in records] == [
        ("cla_start", "RES 3", date(2018, 4, 3)),
        ("cla_start", "RES 2", date(2019, 7, 15)),
    ]
    assert (report.rows_read, report.applied, report.ignored, report.rejected_count) == (6, 2, 4, 0)
    assert "A1" not in records[0].child_ref  # pseudonymised
    assert records[0].child_ref == PSEUDO("A1")


def test_overlapping_yearly_files_count_a_child_decom_once():
    seen: set[str] = set()
    _, first = run_csv([COLUMNS, ep("B1", "01/02/2018"), ep("B2", "01/03/2019")], seen=seen)
    records, second = run_csv([COLUMNS, ep("B2", "01/03/2019"), ep("B3", "05/05/2019")], seen=seen)
    assert first.applied == 2
    assert (second.applied, second.duplicates) == (1, 1)
    assert [r.child_ref for r in records] == [PSEUDO("B3")]


def test_bad_dates_and_unknown_postcodes_are_rejected_with_row_and_reason():
    records, report = run_csv(
        [
            COLUMNS,
            ep("C1", "2018-04-03"),
            ep("C2", "31/02/2018"),
            ep("C3", "01/04/2018", post="BD1 1AA"),
            ep("C4", "01/04/2018", post=""),
            ep("C5", "01/04/2018", rne="X"),
            ep("C6", "01/04/2018", dec="01/03/2018", rec="E11"),
            ep("C7", "01/04/2018"),
        ]
    )
    assert len(records) == 1
    assert report.rejected_count == 6
    got = [(r.location, r.field, r.reason.split(":")[0]) for r in report.rejected]
    assert got == [
        ("row 2", "DECOM", "invalid_date"),
        ("row 3", "DECOM", "invalid_date"),
        ("row 4", "HOME_POST", "unknown_postcode_sector"),
        ("row 5", "HOME_POST", "missing_or_invalid_postcode"),
        ("row 6", "RNE", "unknown_code"),
        ("row 7", "DEC", "before_DECOM"),
    ]


def test_file_without_column_row_uses_the_standard_order_and_period_ends_are_recorded():
    records, report = run_csv(
        [
            ep("D1", "01/04/2018", dec="01/06/2018", rec="X1"),
            ep("D1", "01/06/2018", rne="P", dec="01/09/2018", rec="E11"),
        ]
    )
    assert [(r.type, r.date) for r in records] == [
        ("cla_start", date(2018, 4, 1)),
        ("cla_end", date(2018, 9, 1)),
    ]
    assert report.rows_read == 2


def test_header_file_rejects_episodes_of_unknown_children_or_before_birth():
    header_report = ImportReport()
    header = read_header_file(
        [
            "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB",
            "E1,1,01/01/2010,WBRI,,,",
            "E2,2,01/01/2019,WBRI,,,",
        ],
        header_report,
    )
    records, report = run_csv(
        [COLUMNS, ep("E1", "01/04/2018"), ep("E2", "01/04/2018"), ep("E9", "01/04/2018")], header
    )
    assert [r.child_ref for r in records] == [PSEUDO("E1")]
    assert [(r.field, r.reason) for r in report.rejected] == [
        ("DECOM", "before_date_of_birth"),
        ("CHILD", "not_in_header_file"),
    ]


def test_wrong_column_count_is_rejected_not_guessed():
    _, report = run_csv([COLUMNS, "F1,01/04/2018,S"])
    assert report.rejected[0].location == "row 2"
    assert report.rejected[0].reason == "expected 13 columns"


def test_xml_form_with_child_outside_the_episode():
    xml = b"""<?xml version="1.0"?>
    <Message xmlns="urn:ssda903"><Children>
      <Child><Header><CHILD>G1</CHILD><SEX>1</SEX></Header>
        <Episodes>
          <Episode><DECOM>2018-04-03</DECOM><RNE>S</RNE><LS>C2</LS><HOME_POST>LS9 7</HOME_POST>
          </Episode>
          <Episode><DECOM>2018-06-01</DECOM><RNE>P</RNE><LS>C2</LS><HOME_POST>LS9 7</HOME_POST>
          </Episode>
        </Episodes></Child>
      <Child><Header><CHILD>G2</CHILD></Header>
        <Episodes>
          <Episode><DECOM>01/02/2019</DECOM><RNE>S</RNE><LS>V4</LS><HOME_POST>LS9 7</HOME_POST>
          </Episode>
          <Episode><DECOM>bad</DECOM><RNE>S</RNE><LS>C2</LS><HOME_POST>LS9 7</HOME_POST>
          </Episode>
        </Episodes></Child>
      <Child><Episodes>
          <Episode><DECOM>2019-01-01</DECOM><RNE>S</RNE><LS>C2</LS><HOME_POST>LS9 7</HOME_POST>
          </Episode>
      </Episodes></Child>
    </Children></Message>"""
    report = ImportReport()
    parser = EpisodeParser(report, SECTORS, PSEUDO)
    records = collect_unique(parse_episodes_xml(io.BytesIO(xml), parser), report, set())
    assert [(r.child_ref, r.date) for r in records] == [(PSEUDO("G1"), date(2018, 4, 3))]
    assert (report.rows_read, report.ignored, report.rejected_count) == (5, 2, 2)
    assert [(r.location, r.field) for r in report.rejected] == [
        ("Episode[4]", "DECOM"),
        ("Episode[5]", "CHILD"),  # the third child has no id: not attributed to the previous one
    ]


def test_xml_rejects_entity_expansion():
    import pytest
    from defusedxml import DefusedXmlException

    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Message>&a;</Message>'
    with pytest.raises(DefusedXmlException):
        list(parse_episodes_xml(io.BytesIO(bomb), EpisodeParser(ImportReport(), SECTORS, PSEUDO)))


def test_postcode_sector_normalises_forms():
    assert postcode_sector("ls9 7ab") == "LS9 7"
    for code in ("GIR 0AA", "gir0aa"):  # the one postcode outside the usual pattern
        assert postcode_sector(code) == "GIR 0"
    assert [postcode_sector(c) for c in ("EC1A 1BB", "W1A 0AX", "M1 1AE", "DN55 1PT")] == [
        "EC1A 1",
        "W1A 0",
        "M1 1",
        "DN55 1",
    ]
    assert postcode_sector("LS97AB") == "LS9 7"
    assert postcode_sector("LS14 1") == "LS14 1"
    assert postcode_sector("LS") is None
    assert postcode_sector("") is None
    assert postcode_sector("LS117AB") == "LS11 7"
    assert postcode_sector("W1A0AX") == "W1A 0"
    assert postcode_sector("EC1A 1BB") == "EC1A 1"


def test_an_outward_code_alone_has_no_sector():
    # "LS11" is a district, not the sector "LS1 1"; "LS97" could be either
    for text in ("LS11", "LS9", "LS97", "LS9 7A", "LS9-7AB", "9LS 7AB", "LS9 X"):
        assert postcode_sector(text) is None, text


def test_sector_keys_collapse_spaces_and_insert_the_missing_one():
    assert sector_key("ls97") == "LS9 7"
    assert sector_key(" LS9  8 ") == "LS9 8"
    assert sector_key("LS11") == "LS1 1"
    assert sector_key("LS11 6") == "LS11 6"
    for text in ("LS9 7AB", "LS", "LS9", "12 3"):
        assert sector_key(text) is None, text


def test_iso_dates_take_nothing_after_the_day():
    assert parse_any_date(" 2019-01-31 ") == date(2019, 1, 31)
    assert parse_any_date("31/01/2019") == date(2019, 1, 31)
    for text in ("2019-01-01junk", "2019-01-01T10:00", "2019-1-1", "20190101", ""):
        with pytest.raises(ValueError):
            parse_any_date(text)


CIN_PSEUDO = keyed_pseudonymiser(b"test-key", "cin")


def cin_child(child_id, *details):
    body = "".join(details)
    return f"<Child><ChildIdentifiers><LAchildID>{child_id}</LAchildID></ChildIdentifiers>{body}</Child>"


def detail(referral, *plans):
    cpp = "".join(
        f"<ChildProtectionPlans><CPPstartDate>{s}</CPPstartDate>"
        + (f"<CPPendDate>{e}</CPPendDate>" if e else "")
        + "</ChildProtectionPlans>"
        for s, e in plans
    )
    return (
        f"<CINdetails><CINreferralDate>{referral}</CINreferralDate>"
        f"<ReferralSource>1A</ReferralSource>{cpp}</CINdetails>"
    )


def run_cin(*children, child_map=None):
    xml = (
        '<?xml version="1.0"?><Message xmlns="http://www.dfe.gov.uk/CIN"><Children>'
        + "".join(children)
        + "</Children></Message>"
    ).encode()
    report = ImportReport()
    parser = CinParser(report, child_map or {"K1": "RES 1", "K2": "RES 4"}, CIN_PSEUDO)
    return collect_unique(parse_cin_xml(io.BytesIO(xml), parser), report, set()), report


def test_cin_referrals_re_referrals_and_plans():
    records, report = run_cin(
        cin_child(
            "K1",
            detail("2018-01-10", ("2018-02-01", "2018-08-01")),
            detail("2019-01-10"),  # exactly 12 months later: a re-referral
            detail("2020-01-11"),  # 12 months and a day: not
        ),
        cin_child("K2", detail("2018-05-05", ("2018-06-01", ""))),
    )
    got = sorted((r.type, r.cluster, r.date.isoformat()) for r in records)
    assert got == [
        ("cp_plan_end", "RES 1", "2018-08-01"),
        ("cp_plan_start", "RES 1", "2018-02-01"),
        ("cp_plan_start", "RES 4", "2018-06-01"),
        ("re_referral", "RES 1", "2019-01-10"),
        ("referral", "RES 1", "2018-01-10"),
        ("referral", "RES 1", "2019-01-10"),
        ("referral", "RES 1", "2020-01-11"),
        ("referral", "RES 4", "2018-05-05"),
    ]
    assert (report.rows_read, report.applied, report.rejected_count) == (4, 8, 0)


def test_cin_unknown_child_and_bad_dates_are_rejected():
    records, report = run_cin(
        cin_child("K9", detail("2018-01-10")),
        cin_child("K1", detail("10/01/2018x"), detail("2018-03-01", ("2018-13-01", ""))),
    )
    assert records == []
    assert [(r.location, r.field, r.reason) for r in report.rejected] == [
        ("Child[1]", "LAchildID", "not_in_child_cluster_map"),
        ("Child[2]/CINdetails[1]", "CINreferralDate", "invalid_date: expected yyyy-mm-dd"),
        ("Child[2]/CINdetails[2]/ChildProtectionPlans[1]", "CPPstartDate", "invalid_date"),
    ]


def test_re_referral_window():
    assert is_re_referral(date(2019, 2, 28), date(2020, 2, 28))
    assert not is_re_referral(date(2019, 2, 28), date(2020, 2, 29))
    assert not is_re_referral(None, date(2020, 1, 1))
    assert not is_re_referral(date(2020, 1, 1), date(2020, 1, 1))
