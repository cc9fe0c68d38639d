"""The stub store: saved exchanges as reviewable files in `stubs/<service>/`.

As in VCR.py, each concern is its own module: `format` (what a stub file holds and how it is
read), `matchers` (does this request match that stub, and if not, why not; `json_paths`: the RFC 9535
JSONPath of body matchers), `store` (the files of every service, and the best match for a request),
`deletion` (a stub and its side files go, nothing outside), `verify` and `prune` (stubs against the spec now).
"""

from .format import Stub, StubError
from .store import Match, StubStore

__all__ = ["Match", "Stub", "StubError", "StubStore"]
