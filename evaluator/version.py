"""Version of the evaluator library, recorded with every evaluation for reproducibility."""

EVALUATOR_VERSION = "0.1.0"
