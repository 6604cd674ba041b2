"""The deployment files: compose.yaml is valid Compose and wires what the README says, the
image is slim, non-root and checks /healthz, and the build context holds every package.

No Docker engine runs here: these read the files; `docker compose up` was not run."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
APP = ("migrate", "bot-1", "bot-2", "scheduler")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(ROOT / "compose.yaml")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_two_webhook_workers_and_one_scheduler_on_postgres_and_redis() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    commands = {name: services[name]["command"] for name in APP}
    assert commands == {
        "migrate": ["migrate"],
        "bot-1": ["run", "--webhook", "--no-scheduler"],
        "bot-2": ["run", "--webhook", "--no-scheduler"],
        "scheduler": ["run", "--scheduler-only"],
    }
    for name in APP:
        service = services[name]
        assert service["env_file"] == ".env"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379/")
    # The workers start after the schema is there, not racing each other to create it.
    for name in ("bot-1", "bot-2", "scheduler"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"


def test_the_proxy_terminates_tls_and_passes_only_the_bots_own_paths() -> None:
    # The webhook, the health check, the dashboard (Mini App) and one-click unsubscribe.
    data = compose()
    caddyfile = data["configs"]["caddyfile"]["content"]
    assert re.search(r"@bot path /tg/webhook /healthz /app /app/\* /mail/unsubscribe/\*\n",
                     caddyfile)
    assert data["x-salesbot"]["environment"]["PUBLIC_URL"].startswith("https://")
    assert "reverse_proxy bot-1:8080 bot-2:8080" in caddyfile
    assert "respond 404" in caddyfile
    assert "/metrics" not in caddyfile
    assert "443:443" in data["services"]["caddy"]["ports"]
    assert data["services"]["caddy"]["configs"][0]["target"] == "/etc/caddy/Caddyfile"


def test_the_image_is_slim_non_root_and_checks_healthz() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert froms and set(froms) == {"python:3.11-slim"}
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["salesbot"\]', dockerfile, re.M)
    healthcheck = re.search(r"^HEALTHCHECK (?:.*\\\n)*.*", dockerfile, re.M)
    assert healthcheck and "127.0.0.1:8080/healthz" in healthcheck.group(0)


def _included(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, "!" lets a path back in."""
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/").removeprefix("**/")
        if fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], bare):
            included = negate
    return included


def test_the_build_context_holds_every_package_the_project_installs() -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = project["tool"]["setuptools"]["packages"]["find"]
    packages = [p.rstrip("*") for p in find["include"]]
    for name in ["pyproject.toml", "README.md", *packages]:
        assert _included(name, patterns), name
    for name in (".env", ".venv", "tests", ".git", "salesbot.db"):
        assert not _included(name, patterns), name
