"""gw: a mock-first developer gateway driven by OpenAPI specs."""

import warnings

# connexion (which gw no longer imports, but a user's own code or a plugin may) imports starlette's test client,
# which warns about httpx on every start.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")

__version__ = "0.1.0"
