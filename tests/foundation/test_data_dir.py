"""The development data folder (keys, embedded servers) does not depend on the current directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import ServiceSettings, project_root
from tests.support import ROOT


def test_the_default_data_folder_is_at_the_project_root_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETHINK_DATA_DIR", raising=False)
    for where in (tmp_path, ROOT / "services", ROOT):
        monkeypatch.chdir(where)
        assert ServiceSettings().data_dir == ROOT / ".rethink"
        assert ServiceSettings().data_dir.is_absolute()
    monkeypatch.setenv("RETHINK_DATA_DIR", str(tmp_path / "elsewhere"))
    assert ServiceSettings().data_dir == tmp_path / "elsewhere"


def test_the_project_root_is_found_from_the_code_then_from_the_current_directory(tmp_path: Path) -> None:
    assert project_root() == ROOT
    installed = tmp_path / "site-packages"  # an installed copy: no pyproject.toml beside the code
    installed.mkdir()
    checkout = tmp_path / "checkout"
    (checkout / "docs" / "deep").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "rethink"\n')
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    assert project_root(installed, cwd=checkout / "docs" / "deep") == checkout
    assert project_root(installed, cwd=other) is None
    assert project_root(ROOT, cwd=checkout) == ROOT  # the code's own checkout first
