"""pricecast: windowed price forecasting with Keras, honest baselines, and a dashboard on top.

Importing the package is cheap: TensorFlow/Keras load only when training or prediction starts.
"""
import os as _os

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
