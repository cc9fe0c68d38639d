"""How a request is validated against its operation: parameters decoded by their styles (serialization.py) and
checked, the body's media type and content checked (request.py)."""
