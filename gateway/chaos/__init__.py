"""Chaos: latency and faults injected on purpose, per service, operation, stub file or request (`Prefer`).

`settings.py` reads what is asked for, `switches.py` keeps the runtime switches (admin API, `gw chaos`),
`step.py` is the pipeline step that draws and applies them, `faults.py` how each fault reaches the client.
"""
