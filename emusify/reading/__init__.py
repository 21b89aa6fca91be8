"""Reading and learning: the model file, run-time prediction against the reference face, a window's
tally, training and validation, fine-tuning the starter, learning from corrections, evaluation."""
