"""Segmentation ablation: Ablation-CAM (and other methods) of a U-Net at its encoder layers, and the
occlusion study (:mod:`.occlusion`); its figures (:mod:`.figures`)."""
