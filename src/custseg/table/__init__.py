"""Tabular input: the well-known fields, header matching, cell parsing, row validation.

The lowest layer above errors: no IO, no models.
"""
