"""The one place that knows which Keras backend runs and talks to it directly (devices, seeds).

Everything else uses Keras 3 APIs only, so ``KERAS_BACKEND=jax`` or ``torch`` work too.
"""
from __future__ import annotations

import os

_configured: str | None = None


def backend_name() -> str:
    import keras

    return keras.backend.backend()


def configure_device() -> str:
    """Prepare the accelerator (TensorFlow: memory growth on) and say what runs, e.g.
    ``"GPU: NVIDIA H100 80GB HBM3 (tensorflow)"`` or ``"CPU (tensorflow)"``. Idempotent."""
    global _configured
    if _configured is not None:
        return _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    name = backend_name()
    device = "CPU"
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass  # already initialised by an earlier call in this process: growth is fixed then
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            device = f"GPU: {details.get('device_name', gpus[0].name)}"
    elif name == "jax":
        import jax

        accel = [d for d in jax.devices() if d.platform != "cpu"]
        if accel:
            device = f"GPU: {getattr(accel[0], 'device_kind', accel[0].platform)}"
    elif name == "torch":
        import torch

        if torch.cuda.is_available():
            device = f"GPU: {torch.cuda.get_device_name(0)}"
    _configured = f"{device} ({name})"
    return _configured


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Python, NumPy and backend seeds; with ``deterministic``, deterministic ops where the backend
    offers them. TensorFlow refuses XLA while deterministic ops are on, and the switch is
    process-wide, so a run that asks for XLA turns it off again."""
    import keras

    keras.utils.set_random_seed(int(seed))
    if backend_name() == "tensorflow":
        import tensorflow as tf

        try:
            if deterministic:
                tf.config.experimental.enable_op_determinism()
            else:
                from tensorflow.python.framework import config as tf_config

                tf_config.disable_op_determinism()
        except (AttributeError, ImportError, RuntimeError):
            pass


def warm_up() -> str:
    """Load Keras and its backend and prepare the device: what a worker started ahead of time does
    while it waits for its first task."""
    import keras  # noqa: F401

    return configure_device()
