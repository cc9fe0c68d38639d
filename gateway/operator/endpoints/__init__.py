"""The gateway's own URLs, all under /_gw/."""
