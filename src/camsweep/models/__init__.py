"""Models: classifier construction, preprocessing, checkpoints and training."""
