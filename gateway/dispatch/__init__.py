"""Mode dispatch: each request to its source (stub | live | record | spy | fallback) by the mode its
service is in now (`runtime/modes.py`). The sources are `mocker/`, `stubs/`, `simulation/`,
`forwarder/`; `chaos/` and `callbacks/` act on the answer as it leaves."""
