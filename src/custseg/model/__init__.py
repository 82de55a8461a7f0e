"""The fitted model: fitting, scoring rows, stable identities, summaries and the report.

No IO; files are read and written by custseg.io.
"""
