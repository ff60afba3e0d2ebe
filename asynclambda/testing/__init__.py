"""Testing kit: virtual time, conformance suites for backends, and (soon) idempotency checks."""
