"""Settings: `gateway.yaml`, `GW_...` environment variables and CLI flags, read once into frozen, typed models.

`config.py` holds the gateway and service models and the loaders, `policy_settings.py` the policy blocks,
`operations.py` the per-operation override, `types.py` the value types (Duration, ByteSize), `sources.py` where
values come from, `errors.py` how a refusal reads (`file: key.path: reason`).
"""
