"""What the one judge costs per value, rules alone against the compiled fast path, in one process.

Why this exists: every answer the validation proxy passes on, every stateful list page and every
request body is judged; this times that judging on the bundled users.yaml and on large corpus
bodies (a Kubernetes PodList, a list page of DigitalOcean droplets) with the same values both ways:
"rules" is the Python judge alone (what gw did before the fast path), "compiled" the judge as it runs
now (jsonschema-rs where it accepts). CPU time per call, median of several repeats: compare ratios.

    python bench/judge_cost.py                      # users.yaml, plus the corpus when ../shared/corpus exists
    python bench/judge_cost.py --items 200          # longer list bodies
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gw.contract import compiled_schema
from gw.contract.judge import compile_schema
from gw.contract.responses import check_response
from gw.mocker.generator import Options, generate
from gw.spec.load import Operation, Service, load_service

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def per_call(action: Callable[[], Any], repeats: int = 5, budget: float = 0.2) -> float:
    """Microseconds of CPU per call: the median of `repeats` batches sized to take about `budget` seconds."""
    action()
    start = time.process_time()
    calls = 0
    while time.process_time() - start < 0.02:
        action()
        calls += 1
    batch = max(1, int(calls * budget / 0.02))
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(batch):
            action()
        samples.append((time.process_time() - start) / batch * 1e6)
    return statistics.median(samples)


def answer_schema(operation: Operation, status: str) -> dict[str, Any]:
    return operation.responses[status]["content"]["application/json"]["schema"]


def listed(schema: dict[str, Any], items: int, seed: int = 1) -> Any:
    """A generated answer; where it holds a list (`items` of a list object, or a bare array), that many entries."""
    value = generate(schema, seed, Options())
    holder = value.get("items") if isinstance(value, dict) else value
    if isinstance(holder, list):
        entries = holder or [generate(schema.get("items") or schema["properties"]["items"]["items"], seed, Options())]
        holder[:] = [entries[i % len(entries)] for i in range(items)]
    return value


def contract_case(name: str, service: Service, operation: Operation, status: str, value: Any) -> tuple[str, int, float, float]:
    """check_response on one answer: the rules alone (the fast path switched off for it), then as it runs now."""
    body = json.dumps(value).encode()
    assert check_response(service, operation, int(status), "application/json", body) == [], name
    validator = next(v for k, v in operation.cache.items() if isinstance(k, tuple) and k[:2] == ("validator", status))
    fast = validator._fast
    validator._fast = None
    before = per_call(lambda: check_response(service, operation, int(status), "application/json", body))
    validator._fast = fast
    after = per_call(lambda: check_response(service, operation, int(status), "application/json", body))
    return name, len(body), before, after


def judge_case(name: str, schema: Any, openapi31: bool, direction: str, value: Any) -> tuple[str, int, float, float]:
    """One value judged by the validator request validation compiles (`iter_errors`), rules alone then now."""
    checker = compile_schema(schema, openapi31, direction)
    assert checker.iter_errors(value) == [] and compiled_schema.validator(schema, openapi31, direction) is not None, name
    before = per_call(lambda: checker.rule_errors(value))
    after = per_call(lambda: checker.iter_errors(value))
    return name, len(json.dumps(value)), before, after


def cases(items: int) -> list[tuple[str, int, float, float]]:
    found = []
    users = load_service("users", REPO / "specs" / "users.yaml", "/")
    get_user, list_users = users.operations["getUser"], users.operations["listUsers"]
    found.append(contract_case("users.yaml GET /users/{id} answer", users, get_user, "200",
                               generate(answer_schema(get_user, "200"), 1, Options())))
    found.append(contract_case(f"users.yaml GET /users page of {items}", users, list_users, "200",
                               listed(answer_schema(list_users, "200"), items)))
    register = users.operations["registerUser"]
    schema = register.definition["requestBody"]["content"]["application/json"]["schema"]
    found.append(judge_case("users.yaml POST /register body", schema, users.openapi31, "request",
                            {"username": "alice_1", "email": "alice@example.com", "password": "s3cretpass"}))
    if (CORPUS / "kubernetes.io.json").is_file():
        k8s = load_service("k8s", CORPUS / "kubernetes.io.json", "/", deep_check="later")
        pods = k8s.operations["listCoreV1PodForAllNamespaces"]
        found.append(contract_case(f"kubernetes PodList of {items}", k8s, pods, "200",
                                   listed(answer_schema(pods, "200"), items)))
    if (CORPUS / "digitalocean.com.json").is_file():
        do = load_service("do", CORPUS / "digitalocean.com.json", "/", deep_check="later")
        droplets = do.operations["droplets_list"]
        schema = answer_schema(droplets, "200")
        value = generate(schema, 1, Options())
        value["droplets"] = [value["droplets"][0] if value.get("droplets") else
                             generate(schema["allOf"][0]["properties"]["droplets"]["items"], 1, Options())] * items
        found.append(contract_case(f"digitalocean droplets page of {items}", do, droplets, "200", value))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20, help="entries in the list bodies")
    args = parser.parse_args()
    print(f"{'value judged':44} {'bytes':>8} {'rules µs':>10} {'compiled µs':>12} {'speed-up':>9}")
    for name, size, before, after in cases(args.items):
        print(f"{name:44} {size:>8} {before:>10.1f} {after:>12.1f} {before / after:>8.1f}x")


if __name__ == "__main__":
    main()
