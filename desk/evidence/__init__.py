"""Evidence packages: one case, its files and what proves them, for a lawyer or a platform.

:mod:`.package` builds the zip and its signed manifest; :mod:`.verify` checks one offline.
"""
