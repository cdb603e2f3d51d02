"""Training: the one Keras fit/predict path (``fitting``), the run pipeline (``pipeline``), run folders
(``runs``), predictions of a saved run (``predicting``), and the Keras-side helpers (``backend``,
``feeding``, ``callbacks``).
"""
