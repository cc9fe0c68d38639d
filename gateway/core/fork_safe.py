"""Random generators each forked worker must draw from on its own (`gw serve --workers N` forks them).

A `random.Random()` made before the fork is copied into every worker with its state: all of them would draw
the same numbers (the same chaos faults, the same upstream picks, at the same moments). The module-level
`random` functions are reseeded by Python itself after a fork; generators made here are too.
"""

from __future__ import annotations

import os
import random
import weakref

_GENERATORS: weakref.WeakSet[random.Random] = weakref.WeakSet()


def own_random(seed: object = None) -> random.Random:
    """A generator reseeded from the OS in each forked child; with a `seed`, the same sequence everywhere
    (the seed is asked for: repeatable runs), so it is left alone."""
    if seed is not None:
        return random.Random(seed)
    generator = random.Random()
    _GENERATORS.add(generator)
    return generator


def _reseed() -> None:
    for generator in list(_GENERATORS):
        generator.seed()


os.register_at_fork(after_in_child=_reseed)
