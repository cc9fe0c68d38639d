"""Serving: uvicorn (one process or forked workers), connection limits in our protocol, a small answer
in one write, the start-up banner."""
