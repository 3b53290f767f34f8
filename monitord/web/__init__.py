"""The safeguarding console: ``monitord web``, the DSL's own place to triage, review and
record, with accounts, two-factor sign-in and roles enforced on the server."""
