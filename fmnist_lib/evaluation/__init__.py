"""Evaluation: metrics, statistics, calibration, the AUC bootstrap, equivalence, cost."""
