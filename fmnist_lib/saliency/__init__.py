"""Saliency: the CAMs, their geometry, perturbation, faithfulness, sanity and agreement."""
