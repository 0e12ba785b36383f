"""Unit tests: consent given, scoped to an agency, and withdrawn."""

from datetime import UTC, datetime, timedelta

from services.formulation_api.families.consent import ConsentScope, ConsentView, has_consent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GROUP, SHARE = ConsentScope.GROUP_SUPERVISION, ConsentScope.SHARE_WITH_AGENCY


def test_no_record_no_consent() -> None:
    assert not has_consent([], GROUP, T0)


def test_given_then_withdrawn() -> None:
    rec = ConsentView(GROUP, None, T0, withdrawn_at=T0 + timedelta(days=10))
    assert not has_consent([rec], GROUP, T0 - timedelta(seconds=1))
    assert has_consent([rec], GROUP, T0 + timedelta(days=1))
    assert not has_consent([rec], GROUP, T0 + timedelta(days=10))


def test_agency_consent_is_per_agency() -> None:
    rec = ConsentView(SHARE, "Leeds Community Health", T0)
    assert has_consent([rec], SHARE, T0, agency="leeds community health ")
    assert not has_consent([rec], SHARE, T0, agency="Police")
    assert not has_consent([rec], GROUP, T0)
