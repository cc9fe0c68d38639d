"""What the `gw contract` tests share: fast settings and the failure lines' shape."""

from __future__ import annotations

import re

FAST = ("--max-examples", "5", "--seed", "1")
# "✗ drift · getWidget (GET /widgets/{widget_id}) · response_schema_conformance"
FAILURE_LINE = re.compile(r"^\S+ (\w+) · (\w+) \([A-Z]+ [^)]*\) · (\w+)", re.M)


def failures_named(output: str) -> set[tuple[str, str]]:
    return {(operation, check) for _service, operation, check in FAILURE_LINE.findall(output)}


# users' getUser stub edited by hand so its body breaks the User schema
BROKEN_STUB = """\
request:
  method: GET
  path: {regex: "^/users/[0-9]+$"}
response:
  status: 200
  headers: {Content-Type: application/json}
  body: {id: "forty-two", username: douglas}
meta: {operation: getUser}
"""
