"""gw: a mock-first developer gateway driven by OpenAPI specs.

The folders read in the order a request meets them: `spec/` (how a spec is loaded), `settings/`, `edge/`
(steps before routing), `routing/`, `validation/`, `policies/`, `dispatch/` (to `mocker/`, `stubs/`,
`simulation/` or `forwarder/`, with `chaos/` and `callbacks/` on the way out), `contract/` (the one judge),
`operator/` (admin API, dashboard, journal, metrics, events); then `runtime/`, `server/` and `core/`.
`app.py` assembles the pipeline, `cli.py` is the `gw` command.
"""

import warnings

# connexion (which gw no longer imports, but a user's own code or a plugin may) imports starlette's test client,
# which warns about httpx on every start.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")

__version__ = "0.1.0"
