"""The weekly digest for the Online Safety Group: what the week held against the week before,
what is still open, what was closed and how, the low-severity activity that raised no alert,
unauthorised devices, the list and policy change-control log and the health of each source,
with "what to look at first" at the top.

It is read from the store alone (events, alerts, the audit trail, checkpoints, rejected
lines), for one ISO week in the school's time zone, Monday 00:00 to Monday 00:00. The HTML
part is rendered from autoescaped Jinja2 templates with its charts as inline ``cid:`` images;
the plain-text part carries the same numbers for mail clients that show no images.

It goes to a group, so by default it names no one: a person is shown by a pseudonym for
this digest ("person 3") and year group, never initials or a role one person holds (the
headteacher); a URL by its site alone (its path and query can hold a search for a named
classmate); searches, typed text and device host names are left out. The
``named`` edition is the DSL's own copy, with names, user names and what was typed.

A digest is queued through the outbox like any alert mail (so the delivery's retries apply)
and recorded in the ``digests`` table in the same transaction: one per site, week and
edition, never twice.
"""
