"""The stub store: saved exchanges as reviewable files in `stubs/<service>/`.

As in VCR.py, each concern is its own module: `format` (what a stub file holds and how it is
read), `matchers` (does this request match that stub, and if not, why not), `store` (the files of
every service, and the best match for a request).
"""

from .format import Stub, StubError
from .store import Match, StubStore

__all__ = ["Match", "Stub", "StubError", "StubStore"]
