"""Structural checks of docker-compose.yml, deploy/Dockerfile and the kustomize manifests.

Docker and a cluster are not available here, so these keep the files honest against the code:
the commands they run must parse with the real `rethink` parser, the ports and probe paths must
be the ones the apps serve, and every environment variable must be one the settings read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.cli import build_parser
from tests.deploy.manifests import (
    API_PORTS,
    COMPOSE_FILE,
    DEPLOY,
    K8S,
    ROOT,
    base_objects,
    compose,
    dockerfile_instructions,
    exec_form,
    interpolate,
    known_env_vars,
    kustomization,
    kustomize_dirs,
    of_kind,
    yaml_docs,
)

RETHINK_SERVICES = {"migrate", "formulation", "goals", "metrics", "worker"}
LONG_RUNNING = {"postgres", "redis", "formulation", "goals", "metrics", "worker"}


def parse(argv: list[str]) -> Any:
    """Parse as the container's `rethink` entrypoint would (argparse exits on unknown input)."""
    return build_parser().parse_args(argv)


# --- docker-compose.yml -------------------------------------------------------------------------


def test_compose_has_every_service_and_the_right_backing_images() -> None:
    services = compose()["services"]
    assert set(services) == LONG_RUNNING | {"migrate"}
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")


def test_compose_builds_the_one_image_from_deploy_dockerfile() -> None:
    services = compose()["services"]
    images = set()
    for name in RETHINK_SERVICES:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        images.add(services[name]["image"])
    assert len(images) == 1


@pytest.mark.parametrize("name", sorted(RETHINK_SERVICES))
def test_compose_commands_are_real_rethink_commands(name: str) -> None:
    args = parse(compose()["services"][name]["command"])
    expected = {"migrate": "migrate", "worker": "worker"}.get(name, "serve")
    assert args.command == expected
    if expected == "serve":
        assert args.service == name


@pytest.mark.parametrize("name", sorted(RETHINK_SERVICES))
def test_compose_env_points_at_the_compose_servers_in_production_mode(name: str) -> None:
    env = compose()["services"][name]["environment"]
    assert env["RETHINK_ENV"] == "production"
    db = urlsplit(interpolate(env["DATABASE_URL"]))
    assert db.scheme == "postgresql" and db.hostname == "postgres" and db.port == 5432
    pg_env = compose()["services"]["postgres"]["environment"]
    assert db.path == "/" + pg_env["POSTGRES_DB"]
    # the migrate job as the schemas' owner, everything else as the app role it grants rows to
    app_role = compose()["services"]["migrate"]["environment"]["RETHINK_APP_DB_ROLE"]
    assert db.username == ("rethink_owner" if name == "migrate" else app_role)
    assert db.username != pg_env["POSTGRES_USER"] and ":?" in env["DATABASE_URL"]
    redis = urlsplit(env["REDIS_URL"])
    assert redis.scheme == "redis" and redis.hostname == "redis" and redis.port == 6379
    for var in ("RETHINK_JWKS_URL", "RETHINK_JWT_ISSUER", "RETHINK_JWT_AUDIENCE"):
        assert env[var], var
    # Production secrets must be given by the operator, not defaulted in the file.
    for var in ("RETHINK_JWKS_URL", "RETHINK_JWT_ISSUER", "RETHINK_METRICS_PSEUDONYM_KEY"):
        assert ":?" in env[var], f"{var} should be required (${{{var}:?...}})"
    assert ":?" in pg_env["POSTGRES_PASSWORD"]


def test_compose_env_vars_are_ones_the_settings_read() -> None:
    known = known_env_vars()
    for name in RETHINK_SERVICES:
        for var in compose()["services"][name]["environment"]:
            assert var in known, f"{name}: {var} is not read by any settings class"


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_compose_long_running_services_have_health_checks(name: str) -> None:
    service = compose()["services"][name]
    check = service["healthcheck"]
    assert not check.get("disable", False)
    assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) >= 2
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", sorted(API_PORTS))
def test_compose_api_ports_health_urls_and_port_settings_agree(name: str) -> None:
    service = compose()["services"][name]
    port = API_PORTS[name]
    published = [interpolate(p) for p in service["ports"]]
    assert len(published) == 1
    host_ip, host_port, container_port = published[0].split(":")
    assert int(host_port) == int(container_port) == port
    assert host_ip == "127.0.0.1"  # published on loopback unless the operator says otherwise
    assert int(service["environment"][f"RETHINK_{name.upper()}_PORT"]) == port
    url = urlsplit(service["healthcheck"]["test"][-1])
    assert url.port == port and url.path in {"/readyz", "/healthz"}
    assert service["healthcheck"]["test"][-2].endswith("deploy/healthcheck.py")


def test_compose_worker_health_check_uses_worker_mode() -> None:
    assert compose()["services"]["worker"]["healthcheck"]["test"][-1] == "worker"


def test_compose_apis_and_worker_wait_for_the_migrate_job() -> None:
    services = compose()["services"]
    for name in ("formulation", "goals", "metrics", "worker"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    assert "ports" not in migrate


def test_compose_redis_keeps_queued_events() -> None:
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in compose()["services"]["postgres"]["volumes"])
    assert COMPOSE_FILE.name == "docker-compose.yml"


# --- deploy/Dockerfile --------------------------------------------------------------------------


def _instructions(word: str) -> list[str]:
    return [args for w, args in dockerfile_instructions() if w == word]


def test_dockerfile_runtime_is_python_312_slim_with_uv_from_the_lock() -> None:
    args = dict(a.split("=", 1) for a in _instructions("ARG") if "=" in a)
    bases = [
        a.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for a in _instructions("FROM")
    ]
    assert bases[-1] == "python:3.12-slim"
    runs = " ".join(_instructions("RUN"))
    assert "uv sync --frozen --no-dev" in runs
    copies = _instructions("COPY")
    assert any("uv.lock" in c for c in copies)


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = _instructions("USER")
    assert users, "the image must set USER"
    assert users[-1].split(":")[0] not in {"0", "root"}


def test_dockerfile_entrypoint_is_the_rethink_script_and_cmd_parses() -> None:
    entrypoint = exec_form(_instructions("ENTRYPOINT")[-1])
    assert entrypoint == ["rethink"]
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["rethink"] == "shared.cli:main"
    args = parse(exec_form(_instructions("CMD")[-1]))
    assert args.command == "serve" and args.service == "formulation"


def test_dockerfile_has_a_healthcheck_script_that_is_copied_in() -> None:
    healthchecks = _instructions("HEALTHCHECK")
    assert len(healthchecks) == 1
    command = exec_form(healthchecks[0].split("CMD", 1)[1].strip())
    assert command[-1] == "/app/deploy/healthcheck.py"
    assert any(c.split()[0] == "deploy/healthcheck.py" for c in _instructions("COPY"))


def test_dockerfile_copies_only_files_that_exist_and_the_dockerignore_lets_through() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = []
    for args in _instructions("COPY"):
        if args.startswith("--from"):
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        sources += parts[:-1]
    assert {"alembic.ini", "migrations", "shared", "services", "uv.lock"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is excluded by Dockerfile.dockerignore"


def test_dockerfile_env_vars_are_ones_the_settings_read() -> None:
    env_words = " ".join(_instructions("ENV")).split()
    rethink_vars = {w.split("=")[0] for w in env_words if w.startswith("RETHINK_")}
    assert {"RETHINK_ENV", "RETHINK_HOST"} <= rethink_vars
    assert rethink_vars <= known_env_vars()
    # The default 127.0.0.1 would be unreachable from outside the container.
    assert "RETHINK_HOST=0.0.0.0" in env_words


# --- Kubernetes (kustomize) ---------------------------------------------------------------------


def _local_files(folder: Path, k: dict[str, Any]) -> set[str]:
    refs = {r for r in k.get("resources", []) if not (folder / r).is_dir()}
    refs |= {p["path"] for p in k.get("patches", []) if "path" in p}
    for gen in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
        refs |= {f.split("=")[-1] for f in gen.get("files", [])}
        refs |= set(gen.get("envs", []))
    return refs


@pytest.mark.parametrize("folder", kustomize_dirs(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_lists_every_file_and_only_existing_ones(folder: Path) -> None:
    k = kustomization(folder)
    refs = _local_files(folder, k)
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != "kustomization.yaml"}
    assert refs == present
    for entry in k.get("resources", []):
        target = folder / entry
        assert target.exists(), entry
        if target.is_dir():
            assert (target / "kustomization.yaml").exists(), entry


def test_base_has_the_three_apis_the_worker_and_the_migrate_job() -> None:
    objects = base_objects()
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == {f"rethink-{s}" for s in API_PORTS} | {"rethink-worker"}
    assert set(of_kind(objects, "Job")) == {"rethink-migrate"}
    assert set(of_kind(objects, "Service")) == {f"rethink-{s}" for s in API_PORTS}
    # Managed PostgreSQL and Redis: no database, no cache and no secret values in the manifests.
    for obj in objects:
        assert obj["kind"] not in {"StatefulSet", "Secret"}


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _probe_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    return int(named[port])


@pytest.mark.parametrize("service", sorted(API_PORTS))
def test_api_deployments_probe_the_right_paths_on_the_container_port(service: str) -> None:
    objects = base_objects()
    deployment = of_kind(objects, "Deployment")[f"rethink-{service}"]
    assert deployment["spec"]["replicas"] >= 2
    container = _container(deployment)
    args = parse(container["args"])
    assert args.command == "serve" and args.service == service
    ports = [p["containerPort"] for p in container["ports"]]
    assert ports == [API_PORTS[service]]
    env = {e["name"]: e for e in container["env"]}
    assert int(env[f"RETHINK_{service.upper()}_PORT"]["value"]) == API_PORTS[service]
    expected = {
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert _probe_port(container, get["port"]) == API_PORTS[service], probe
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == API_PORTS[service]


def test_worker_deployment_runs_several_relays_with_exec_probes() -> None:
    worker = of_kind(base_objects(), "Deployment")["rethink-worker"]
    assert worker["spec"]["replicas"] >= 2
    container = _container(worker)
    assert parse(container["args"]).command == "worker"
    assert "ports" not in container
    for probe in ("readinessProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[-2:] == ["/app/deploy/healthcheck.py", "worker"], probe


def test_migrate_job_runs_rethink_migrate_once() -> None:
    job = of_kind(base_objects(), "Job")["rethink-migrate"]
    assert parse(_container(job)["args"]).command == "migrate"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def _workloads() -> list[dict[str, Any]]:
    objects = base_objects()
    return [*of_kind(objects, "Deployment").values(), *of_kind(objects, "Job").values()]


def test_every_workload_has_resources_and_runs_non_root() -> None:
    for obj in _workloads():
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = _container(obj)
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][section]), section
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["image"] == "rethink"  # rewritten by the kustomize `images` entry


def test_every_workload_gets_database_and_redis_from_the_secret_and_config_from_the_map() -> None:
    k = kustomization(K8S / "base")
    config_maps = {g["name"] for g in k["configMapGenerator"]}
    assert {i["name"] for i in k["images"]} == {"rethink"}
    secrets = set()
    for obj in _workloads():
        container = _container(obj)
        env = {e["name"]: e for e in container["env"]}
        needed = ("DATABASE_URL",) if obj["kind"] == "Job" else ("DATABASE_URL", "REDIS_URL")
        for var in needed:
            ref = env[var]["valueFrom"]["secretKeyRef"]
            # the migrate Job logs in as the schemas' owner; the APIs and worker as the app role
            assert ref["key"] == ("MIGRATE_DATABASE_URL" if obj["kind"] == "Job" else var)
            secrets.add(ref["name"])
        if obj["kind"] == "Job":
            assert env["RETHINK_APP_DB_ROLE"]["value"] == "rethink_app"
        else:
            assert "RETHINK_APP_DB_ROLE" not in env
        refs = {e["configMapRef"]["name"] for e in container["envFrom"]}
        assert refs <= config_maps
    assert len(secrets) == 1  # one Secret, created outside the repository


def test_config_map_is_production_with_rs256_settings_and_known_vars() -> None:
    k = kustomization(K8S / "base")
    literals = dict(line.split("=", 1) for g in k["configMapGenerator"] for line in g["literals"])
    assert literals["RETHINK_ENV"] == "production"
    assert literals["RETHINK_HOST"] == "0.0.0.0"
    for var in ("RETHINK_JWKS_URL", "RETHINK_JWT_ISSUER", "RETHINK_JWT_AUDIENCE"):
        assert literals[var]
    assert urlsplit(literals["RETHINK_JWKS_URL"]).scheme == "https"
    assert set(literals) <= known_env_vars()
    for obj in _workloads():
        for e in _container(obj)["env"]:
            assert e["name"] in known_env_vars(), e["name"]


def test_services_select_their_deployment_and_target_its_port() -> None:
    objects = base_objects()
    deployments = of_kind(objects, "Deployment")
    for name, svc in of_kind(objects, "Service").items():
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        container = _container(deployment)
        for port in svc["spec"]["ports"]:
            assert _probe_port(container, port["targetPort"]) == port["port"]


def test_production_overlay_keeps_several_replicas_and_targets_base_objects() -> None:
    overlay = K8S / "overlays" / "production"
    k = kustomization(overlay)
    assert k["namespace"]
    assert "../../base" in k["resources"]
    deployments = set(of_kind(base_objects(), "Deployment"))
    counts = {r["name"]: r["count"] for r in k["replicas"]}
    assert set(counts) <= deployments and all(c >= 2 for c in counts.values())
    assert {i["name"] for i in k["images"]} == {"rethink"} and all(i["newTag"] for i in k["images"])
    for gen in k.get("configMapGenerator", []):
        assert gen["behavior"] == "merge"
        assert {line.split("=", 1)[0] for line in gen["literals"]} <= known_env_vars()
    overlay_docs = [d for f in _local_files(overlay, k) for d in _docs(overlay / f)]
    for hpa in of_kind(overlay_docs, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert hpa["spec"]["minReplicas"] >= 2


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml_docs(path) if isinstance(d, dict)]  # JSON 6902 patches are lists
