"""State that changes while the gateway runs (runtime mode switches), kept beside the frozen settings, never in them."""
