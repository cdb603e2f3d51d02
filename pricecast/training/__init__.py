"""Training: the one Keras fit/predict path (``fitting``), the run pipeline (``pipeline``), the types it
hands on (``types``: ``Prepared``, ``Run``), run folders (``runs``), predictions of a saved run
(``predicting``), the shuffled-time control (``controls``), and the Keras-side helpers (``backend``,
``feeding``, ``callbacks``).
"""
