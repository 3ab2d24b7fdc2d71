"""Perturbation robustness: how far maps move under perturbation (RMSE to the clean map) against how much
the classifier degrades (ΔAUC); tables (:mod:`.analysis`) and figures (:mod:`.figures`)."""
