"""The steps that run once the operation is known: authenticate (the machinery is `auth/`), rate limits;
and the policy lines `gw lint` prints."""
