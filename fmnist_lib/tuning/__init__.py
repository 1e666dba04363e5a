"""Tuning: the search space and the cross-validated grid search over it."""
