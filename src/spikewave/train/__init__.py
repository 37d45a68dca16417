"""Training: models, the loop with progress, metrics and atomic checkpoints."""
