"""The operator surface and its read model: what the admin API, the dashboard and detailed health show."""
