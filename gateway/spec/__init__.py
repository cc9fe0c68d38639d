"""How a spec is loaded: the specification object and the operation model the router and validator read."""
