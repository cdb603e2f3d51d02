"""Model specs, shape checks and Keras builders. Keras is imported only inside the functions that build or load a model."""
