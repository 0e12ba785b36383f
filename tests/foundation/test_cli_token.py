"""`rethink token`: a development token the APIs will take, or a usage error."""

import uuid

import pytest

from shared.cli import build_parser


def test_a_team_that_is_not_a_uuid_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["token", "--role", "practitioner", "--team", "nope"])
    assert exit_.value.code == 2
    assert "not a team id" in capsys.readouterr().err


def test_team_ids_are_written_as_the_apis_compare_them():
    team = uuid.uuid4()
    args = build_parser().parse_args(["token", "--role", "practitioner", "--team", str(team).upper()])
    assert args.team == [str(team)]
