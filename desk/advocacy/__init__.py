"""Advocacy statistics from the consented reports a caseworker has opened (docs/caseworkers.md).

:mod:`.records` reads the five coded answers of a consented report, :mod:`.counts` counts them,
:mod:`.suppression` hides what could single someone out, :mod:`.export` and :mod:`.charts`
write what may be published, and :mod:`.signed` carries unsuppressed counts, signed, between
caseworkers of one organisation.
"""
