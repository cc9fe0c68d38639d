"""formats.py's string formats as patterns the compiled judge runs natively, without a call into Python.

Why: jsonschema-rs calls a custom format back into Python for every formatted string (~4 µs each: a
User answer with an email and two timestamps spent most of its compiled check there). Each pattern
below accepts a subset of what formats.py accepts (ASCII digits only where Python's `\\d` and `int`
also take other Unicode digits, no trailing newline where Python's `$` allows one), so it is used only
where a stricter check is safe: in a schema's positive part ("pos" in compiled_schema.py), where a
string it refuses is still judged, and explained, by the Python rules. Under `not`, `if` or a tag
test the exact Python check stays. `ipv6` has no pattern: it keeps the Python check everywhere.
"""

from __future__ import annotations

_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"  # 0001-9999: date has no year 0
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
# a real calendar date, as date.fromisoformat reads YYYY-MM-DD (the 29th of February in leap years only)
_DATE = (rf"(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
         rf"|(?:0[13578]|1[02])-31)|{_LEAP_YEAR}-02-29)")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"  # no leading zeros: ipaddress refuses them
_HEX = "[0-9a-fA-F]"
# what Python's `\s` matches (str.isspace), spelled out: the native engine's `\s` is a different set
_SPACE = r"\t-\r\x1c- \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

PATTERNS: dict[str, str] = {
    "email": "@",
    "date": rf"^{_DATE}$",
    "date-time": rf"^{_DATE}[Tt ]{_TIME}$",
    "uuid": rf"^{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}$",
    "uri": rf"^[A-Za-z][A-Za-z0-9+.-]*:[^{_SPACE}]*$",
    "ipv4": rf"^{_OCTET}(?:\.{_OCTET}){{3}}$",
    "byte": r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
}
