"""The Dockerfile and deploy/kubernetes/ are what an operator applies: every manifest is valid against Kubernetes'
schemas (offline), and the probes, ports and shutdown timings agree with what `gw serve` really serves."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gw.settings.config import load_config
from tests.conftest import ROOT

KUBE = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest version still widely run that these manifests target


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBE / "kustomization.yaml").read_text(encoding="utf-8"))


def _generated_config_maps() -> list[dict[str, Any]]:
    """The ConfigMaps kustomize makes from `configMapGenerator` (name and files as listed)."""
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": entry["name"]},
             "data": {Path(f).name: (KUBE / f).read_text(encoding="utf-8") for f in entry["files"]}}
            for entry in _kustomization()["configMapGenerator"]]


def _manifests() -> list[dict[str, Any]]:
    return [doc for name in _kustomization()["resources"] for doc in _documents(KUBE / name)] + _generated_config_maps()


def _gw_container() -> dict[str, Any]:
    deployment = next(d for d in _manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "gw")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_every_manifest_file_is_listed_in_the_kustomization() -> None:
    listed = set(_kustomization()["resources"])
    on_disk = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml", "gateway.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("manifest", _manifests(), ids=lambda m: f"{m['kind']}/{m['metadata']['name']}")
def test_manifest_is_valid_against_the_kubernetes_schema(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)  # raises ValidationError naming the place


def test_an_invalid_manifest_is_refused_by_the_same_check() -> None:
    broken = {**_manifests()[0], "spec": {"replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_deployment_probes_the_port_the_configured_gateway_listens_on() -> None:
    container = _gw_container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    config = yaml.safe_load(_generated_config_maps()[0]["data"]["gateway.yaml"])
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == config["port"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/_gw/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/_gw/health"
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert all(str(Path(s["spec"]).parent) in mounted for s in config["services"].values())
    assert config["stubs"] in mounted


def test_the_grace_period_covers_pre_stop_and_the_drain() -> None:
    deployment = next(d for d in _manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "gw")
    pod = deployment["spec"]["template"]["spec"]
    pre_stop = int(_gw_container()["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = load_config(KUBE / "gateway.yaml", env={}).server.drain_timeout
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


def test_the_probed_paths_answer_on_a_gateway_started_from_the_config_map(gw_process, redis_server, tmp_path) -> None:
    text = _generated_config_maps()[0]["data"]["gateway.yaml"]
    text = text.replace("/srv/gw/specs", str(ROOT / "specs")).replace("/srv/gw/stubs", str(tmp_path / "stubs"))
    (tmp_path / "gateway.yaml").write_text(text, encoding="utf-8")
    gateway = gw_process(str(tmp_path / "gateway.yaml"), env={"GW_ADMIN__KEY": "k" * 32, "GW_REDIS_URL": redis_server.url,
                                                               "GW_HOST": "127.0.0.1"}).wait_ready()
    container = _gw_container()
    for probe in ("readinessProbe", "livenessProbe"):
        with urllib.request.urlopen(gateway.url + container[probe]["httpGet"]["path"], timeout=5) as answer:
            assert answer.status == 200


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per line of the final stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)
    lines = [line.strip() for line in ("FROM " + stages[-1]).splitlines() if line.strip() and not line.startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_image_runs_as_a_non_root_user_from_a_slim_base() -> None:
    instructions = dict(_dockerfile())
    assert "slim" in instructions["FROM"]
    user = instructions["USER"].split(":")[0]
    assert user not in ("root", "0")


def test_the_image_command_serves_what_its_healthcheck_asks(gw_process) -> None:
    instructions = dict(_dockerfile())
    command = yaml.safe_load(instructions["CMD"])  # exec form: a JSON array
    port = command[command.index("--port") + 1]
    assert instructions["EXPOSE"] == port
    check = instructions["HEALTHCHECK"]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/_gw/\w+)", check)
    assert url is not None and url.group(1) == port and url.group(2) == "/_gw/health"
    assert command[0] == "serve"
    at = command.index("--port")
    args = command[1:at] + command[at + 2:]  # the test's gateway takes a free port instead
    gateway = gw_process(*[a if a != "0.0.0.0" else "127.0.0.1" for a in args]).wait_ready()
    with urllib.request.urlopen(gateway.url + url.group(2), timeout=5) as answer:
        assert answer.status == 200
