"""Steps every request walks before it is routed: who the client is, its id, what is observed of it."""
