"""Callbacks and webhooks: requests gw itself sends, as the API's server would.

An operation's OpenAPI `callbacks` are sent after its stub answer (step.py), a 3.1 `webhooks` entry on
demand (webhooks.py); both build their payload from the spec (payload.py), go only where the allow-list
says (guard.py), and are sent, timed, checked and journaled by one sender (sender.py).
"""
