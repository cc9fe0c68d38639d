"""gw: a mock-first developer gateway driven by OpenAPI specs."""

import logging
import warnings

# connexion imports starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")

# connexion logs a warning per operation with several request media types ("this operation
# accepts multiple content types"): thousands of lines on a large spec, none of them actionable.
logging.getLogger("connexion").setLevel(logging.ERROR)

__version__ = "0.1.0"
