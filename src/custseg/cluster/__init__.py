"""Clustering: the algorithm registry, features, the segmenter, the assigner, evaluation.

No IO; takes and returns arrays and DataFrames.
"""
