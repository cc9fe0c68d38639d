"""The one judge of a value against a schema (`judge`, its compiled fast path, formats, ECMA-262
patterns) and its users: does an answer honour the spec (`responses`, `streams`), the validation
proxy step, and contract testing with schemathesis (`conformance/`)."""
