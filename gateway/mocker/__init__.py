"""Stub mode: answer from the contract (recorded stub, Prefer header, example, generated body)."""

from .mocker import Mocker

__all__ = ["Mocker"]
