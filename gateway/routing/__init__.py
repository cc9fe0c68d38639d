"""How a request is routed: the path as the router reads it (paths.py), the compiled route table (table.py), and
the pipeline step that finds the operation, runs the policies and validates the request (router.py)."""
