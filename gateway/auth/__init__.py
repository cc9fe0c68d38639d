"""Who may call what: token verification, the built-in login, and the identity sent upstream.

One concern per module: `keys` (key material and pinned algorithms), `jwks` (remote keys),
`tokens` (verify and sign), `schemes` (the spec's security requirements), `passwords`, `sessions`
(login, refresh rotation, revocation in the shared state), `upstream` (what the upstream sees),
`setup` (all of it built once from the settings).
"""
