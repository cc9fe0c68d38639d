"""The real stripe-python SDK against gw: do the requests an SDK really sends get through?

Stripe's SDKs send form bodies and queries with bracket keys (`metadata[k]=v`, `expand[0]=x`,
`line_items[0][price]=p`), which Stripe's spec declares as `style: deepObject`.
bench/stripe_subset.yaml copies a few operations in the shapes of Stripe's published spec
(anyOf object-or-"" unions, arrays of objects, range filters). Valid calls must be accepted,
invalid ones refused with a 400.

    gw serve bench/stripe_subset.yaml --port 8000
    python bench/stripe_sdk.py --url http://127.0.0.1:8000   # any Python with `pip install stripe`

stripe is not a dependency of gw; install it in a scratch virtualenv.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

try:
    import stripe
except ImportError:  # pragma: no cover
    sys.exit("bench/stripe_sdk.py needs the stripe package: pip install stripe (in a scratch virtualenv)")


def calls(client: Any) -> tuple[dict[str, Callable[[], Any]], dict[str, Callable[[], Any]]]:
    """(valid calls, invalid calls), by what they exercise."""
    customers, sessions = client.v1.customers, client.v1.checkout.sessions
    valid = {
        "customers.create metadata, address, expand": lambda: customers.create(params={
            "email": "a@b.c", "metadata": {"order_id": "6735", "note": "x"}, "address": {"city": "Oslo", "line1": "Main 1"},
            "expand": ["tax"], "balance": -500}),
        "customers.create unsets metadata with an empty string": lambda: customers.create(
            params={"metadata": "", "address": ""}),
        "customers.create invoice_settings[custom_fields][0][name]": lambda: customers.create(params={
            "invoice_settings": {"custom_fields": [{"name": "VAT", "value": "123"}, {"name": "PO", "value": "9"}]}}),
        "customers.create tax_id_data, preferred_locales": lambda: customers.create(params={
            "tax_id_data": [{"type": "eu_vat", "value": "DE123"}], "preferred_locales": ["en", "de"], "tax_exempt": "none"}),
        "customers.list created[gte], expand[0]": lambda: customers.list(params={
            "created": {"gte": 1700000000, "lt": 1800000000}, "limit": 3, "expand": ["data.default_source"]}),
        "customers.list created as an integer": lambda: customers.list(params={"created": 1700000000}),
        "customers.retrieve expand[0]": lambda: customers.retrieve("cus_123", params={"expand": ["default_source"]}),
        "invoices upcoming subscription_items[0][price]": lambda: client.raw_request("get", "/v1/invoices/upcoming", **{
            "customer": "cus_123", "subscription_items": [{"price": "price_1", "quantity": 2, "metadata": {"a": "b"}},
                                                          {"price": "price_2", "quantity": 1}]}),
        "checkout.sessions.create line_items[0][adjustable_quantity][enabled]": lambda: sessions.create(params={
            "mode": "payment", "success_url": "https://x/ok?session={CHECKOUT_SESSION_ID}",
            "line_items": [{"price": "price_1", "quantity": 2, "adjustable_quantity": {"enabled": True, "maximum": 5}}],
            "payment_method_types": ["card"], "metadata": {"cart": "42"}, "allow_promotion_codes": True}),
    }
    invalid = {
        "customers.create balance not an integer": lambda: customers.create(params={"balance": "lots"}),
        "checkout line_items[0][quantity] not an integer": lambda: sessions.create(params={
            "line_items": [{"price": "p", "quantity": "two"}]}),
        "customers.list created[gte] not an integer": lambda: customers.list(params={"created": {"gte": "soon"}}),
    }
    return valid, invalid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway serving bench/stripe_subset.yaml")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    client = stripe.StripeClient("sk_test_gw", base_addresses={"api": args.url}, max_network_retries=0)
    valid, invalid = calls(client)
    accepted = refused = 0
    for name, call in valid.items():
        try:
            call()
            accepted += 1
            print("ok   ", name)
        except stripe.StripeError as exc:
            print("FAIL ", name, exc.http_status, str(exc.http_body)[:200])
    for name, call in invalid.items():
        try:
            call()
            print("FAIL  accepted:", name)
        except stripe.StripeError as exc:
            refused += exc.http_status == 400
            print("ok   " if exc.http_status == 400 else "FAIL ", name, exc.http_status)
    print(f"valid calls accepted: {accepted}/{len(valid)}; invalid calls refused with 400: {refused}/{len(invalid)}")
    return 0 if accepted == len(valid) and refused == len(invalid) else 1


if __name__ == "__main__":
    sys.exit(main())
