"""The headers an operator's client sends the admin API, named once for the gateway and for `gw mode`/`gw journal`
(which must not import the gateway to know them)."""

ADMIN_HEADER = "X-GW-Admin"  # any value: proves a script, not a cross-site form (edge/cross_site.py)
KEY_HEADER = "x-gw-admin-key"  # the admin key (admin.key), for operators on another machine
