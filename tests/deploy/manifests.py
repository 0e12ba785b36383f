"""Loaders for the deployment files, shared by the deploy tests (no Docker, no cluster needed)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
API_PORTS = {"formulation": 8001, "goals": 8002, "metrics": 8003}

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?(?P<op>[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error} with no variable set: defaults, else a marker."""

    def sub(m: re.Match[str]) -> str:
        if m.group("op") == "-":
            return m.group("arg")
        return f"<{m.group('name')}>"

    return _VAR.sub(sub, value)


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomization(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def kustomize_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def base_objects() -> list[dict[str, Any]]:
    base = K8S / "base"
    objects: list[dict[str, Any]] = []
    for entry in kustomization(base)["resources"]:
        objects += yaml_docs(base / entry)
    return objects


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def exec_form(arguments: str) -> list[str]:
    """Docker's exec form is a JSON array; the shell form is split like a shell would."""
    if arguments.startswith("["):
        return [str(a) for a in json.loads(arguments)]
    return shlex.split(arguments)


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", DEPLOY / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def known_env_vars() -> set[str]:
    """Every environment variable the settings classes read (RETHINK_* fields and their aliases)."""
    from pydantic import AliasChoices

    from shared.registry import PACKAGES
    from shared.settings import ServiceSettings

    classes: list[type[ServiceSettings]] = [ServiceSettings]
    for pkg in PACKAGES.values():
        module = importlib.import_module(f"{pkg}.settings")
        classes.append(module.Settings)
    names: set[str] = set()
    for cls in classes:
        for field_name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(c) for c in alias.choices)
            elif isinstance(alias, str):
                names.add(alias)
            else:
                names.add(f"RETHINK_{field_name.upper()}")
    return names
