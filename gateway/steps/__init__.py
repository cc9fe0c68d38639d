"""The pipeline's steps, one concern each, in the order a request meets them (see app.py)."""
