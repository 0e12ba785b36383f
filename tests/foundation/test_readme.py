"""Every configuration variable the services read is documented in the README."""

from pathlib import Path

from shared.registry import load_all

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _env_names() -> set[str]:
    names = set()
    for svc in load_all():
        for field_name, field in svc.settings_cls.model_fields.items():
            alias = field.validation_alias
            choices = getattr(alias, "choices", None)
            if choices:
                names.update(str(c) for c in choices if str(c).startswith("RETHINK_"))
            else:
                names.add(f"RETHINK_{field_name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    missing = sorted(n for n in _env_names() if n not in README)
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    assert "uv run rethink dev" in README and "uv run pytest" in README
