"""Study wings: each study camsweep reproduces keeps its own analysis, tables, figures, constants and
published numbers here, one subpackage per study (docs/studies.md). A wing builds on the core modules; no
core module imports a wing.

* :mod:`~camsweep.studies.segmentation_ablation` — CAMs of a U-Net and the occlusion study.
* :mod:`~camsweep.studies.perturbation_robustness` — map RMSE to the clean map against ΔAUC.
* :mod:`~camsweep.studies.attention_training` — the attention-trained classifiers' λ table and the
  shortcut demonstration.
* :mod:`~camsweep.studies.box_vs_mask` — localisation metrics against boxes and masks, corrected and as the
  seed code computes them.
"""
