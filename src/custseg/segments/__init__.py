"""Segments: profiles, rulebook names, explanations and charts.

No IO; returns frozen dataclasses and Plotly figures.
"""
