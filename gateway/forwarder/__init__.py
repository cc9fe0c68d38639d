"""Live mode: forward a request to the service's upstream over a pooled client."""

from .proxy import Forwarder

__all__ = ["Forwarder"]
