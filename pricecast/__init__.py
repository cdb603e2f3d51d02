"""pricecast: windowed price forecasting with Keras, honest baselines, and a dashboard on top.

Importing the package is cheap: TensorFlow/Keras load only when training or prediction starts.
"""
import os as _os

# Quiet TensorFlow's C++ log before anything imports it: only fatal lines. What goes wrong in a run
# reaches Python as an exception, which pricecast reports; its C++ errors on a working run are noise
# ("failed call to cuInit" on a machine without a GPU). Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
