"""The one place that knows which Keras backend runs and talks to it directly (devices, seeds).

Everything else uses Keras 3 APIs only, so ``KERAS_BACKEND=jax`` or ``torch`` work too.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

_configured: str | None = None

# A log line of TensorFlow's C++ core as absl writes it before it is set up (the time field is then
# "00:00:<unix seconds>": "I0000 00:00:1795609381.554029   8385 port.cc:153] ..."), and the notice
# absl prints before its first lines.
_TF_LOG_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_HIDDEN_BELOW = {"I": 1, "W": 2, "E": 3}  # TF_CPP_MIN_LOG_LEVEL from which a severity is hidden; F never is


def _is_tf_chatter(line: str, level: int) -> bool:
    if line.startswith(_ABSL_NOTICE):
        return level >= 1
    match = _TF_LOG_LINE.match(line)
    return bool(match) and level >= _HIDDEN_BELOW.get(match.group(1), 99)


def load_keras() -> ModuleType:
    """Keras, with its backend loaded. TensorFlow (2.17 and later) writes its start-up lines (oneDNN,
    "Could not find cuda drivers") through absl before absl reads TF_CPP_MIN_LOG_LEVEL, so setting it
    does not hide them: the first import runs with stderr held back, and every line that is not a
    TensorFlow log line below that level is written out again (Python warnings, errors, fatal lines)."""
    if "keras" in sys.modules:
        import keras

        return keras
    level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import keras
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _is_tf_chatter(line, level))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
    if level >= 2:
        try:  # Python-side absl warnings (TensorFlow's own, and Keras's when saving)
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
        except ImportError:
            pass
    _without_tensorflow(keras)
    return keras


def _without_tensorflow(keras: ModuleType) -> None:
    """On another backend, tell Keras TensorFlow is absent unless something already loaded it.
    Keras otherwise imports it (seconds and hundreds of MB) in every JAX trial worker just to ask
    whether an object is a TensorFlow one, when seeding and when saving a model."""
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:  # Keras moved its internals: it imports TensorFlow, slower but right
        return
    module_utils.tensorflow._available = False


def backend_name() -> str:
    return load_keras().backend.backend()


def configure_device() -> str:
    """Prepare the accelerator (TensorFlow: memory growth on) and say what runs, e.g.
    ``"GPU: NVIDIA H100 80GB HBM3 (tensorflow)"`` or ``"CPU (tensorflow)"``. Idempotent."""
    global _configured
    if _configured is not None:
        return _configured
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


def jax_cache_env(folder: Path | str, max_bytes: int = 1 << 30) -> dict[str, str]:
    """Environment for a process on JAX that keeps every compiled program in ``folder`` (at most
    ``max_bytes``) and reuses it. Why: a Keras model called on JAX compiles its recurrent loops
    again at every call, and each fold of a walk-forward group compiles its training step again:
    the same programs, fetched from this cache in milliseconds instead of compiled in seconds (a
    five-trial LSTM walk spent a third of its time compiling). Set before JAX starts."""
    return {"JAX_COMPILATION_CACHE_DIR": str(folder), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_COMPILATION_CACHE_MAX_SIZE": str(int(max_bytes))}


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Python, NumPy and backend seeds; with ``deterministic``, deterministic ops where the backend
    offers them. TensorFlow refuses XLA while deterministic ops are on, and the switch is
    process-wide, so a run that asks for XLA turns it off again."""
    keras = load_keras()

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
    load_keras()
    return configure_device()
