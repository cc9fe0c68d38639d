"""Stateful resources (`state:`): collections inferred from the spec's paths, kept per session in the shared state.

    settings.py    the `state:` setting
    inference.py   which operations are a collection's, and what each does (create, list, read, ...)
    store.py       where resources live (memory or Redis), per session, seeded once
    seed.py        seed data from stubs/<service>/state/
    resources.py   what a created or updated resource holds (ids, timestamps, merges)
    json_patch.py  RFC 6902 operations
    listing.py     filters, sorting, paging and the list's shape
    simulator.py   the answers, judged against the contract; the one entry point (mode dispatch calls it)
"""
