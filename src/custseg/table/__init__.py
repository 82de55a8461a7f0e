"""Tabular input: fields, header matching, cell parsing, validation, row notes, demo data.

The lowest layer above errors: no IO, no models.
"""
