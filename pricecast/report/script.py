"""A saved run as a standalone Python script: ``pricecast export RUN_DIR --script train_again.py``.

The script needs only numpy, pandas and keras. It reads a CSV, splits it by time as the run did,
fits the scaler on the training rows only, cuts the same windows (same stride), defines the same
network in plain Keras code, trains it with the run's settings (seed, batch, epochs, early stopping,
best weights), decides on validation as the run did (the network, or "no change" when it is no better
by a paired test) and prints the test RMSE beside persistence's; its last line is one JSON object
``{"test_rmse": ..., "network_rmse": ..., "persistence_rmse": ...}`` (``test_rmse``: the forecast the
decision uses, as the run's ``test.rmse``).

The network's code is generated from the saved model's graph (``config.json`` inside ``model.keras``):
one ``layers.X(...)(inputs)`` line per layer call, with only the settings that differ from Keras'
defaults. Keras is imported inside :func:`network_code` (to read those defaults), never at import.
What the script cannot reproduce (derived inputs such as ``log_return``, a layer that is not one of
Keras' own) is refused with a :class:`ScriptError` that names it.
"""
from __future__ import annotations

import inspect
import json
import keyword
import pprint
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pricecast.data.candles import CANDLE_COLUMNS
from pricecast.data.datasets import display_name, load_data
from pricecast.errors import PricecastError
from pricecast.prep.targets import get_target
from pricecast.training.runs import load_run
from pricecast.training.types import Run


class ScriptError(PricecastError):
    """A run the standalone script cannot reproduce, saying what is unsupported."""


# ---- the network as code ---------------------------------------------------------------------------
def model_config(run_dir: Path | str) -> dict:
    """The functional model's config, from ``model.keras`` (a zip holding ``config.json``)."""
    try:
        with zipfile.ZipFile(Path(run_dir) / "model.keras") as archive:
            return json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ScriptError(f"the run's model file cannot be read ({exc})") from exc


def _ident(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name).strip("_") or "t"
    if base[0].isdigit() or keyword.iskeyword(base) or base in {"keras", "layers", "np", "pd", "inputs", "outputs"}:
        base = "t_" + base
    out, i = base, 1
    while out in taken:
        i += 1
        out = f"{base}_{i}"
    taken.add(out)
    return out


def _strip_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


def _is_serialized(value: Any) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value and "module" in value


class _Coder:
    """Turns layer configs into constructor arguments, leaving out what equals Keras' default."""

    def __init__(self) -> None:
        import keras

        self.keras = keras

    def defaults(self, klass: type) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cls in reversed(klass.__mro__):
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            try:
                params = inspect.signature(init).parameters.values()
            except (TypeError, ValueError):
                continue
            out.update({p.name: p.default for p in params if p.default is not inspect.Parameter.empty})
        return out

    def same(self, key: str, value: Any, default: Any) -> bool:
        if _is_serialized(value) and isinstance(default, str):
            family = value["module"].rsplit(".", 1)[-1]
            getter = {"initializers": self.keras.initializers, "regularizers": self.keras.regularizers,
                      "constraints": self.keras.constraints}.get(family)
            if getter is None:
                return False
            obj = getter.get(default)
            return type(obj).__name__ == value["class_name"] and _strip_ids(obj.get_config()) == value["config"]
        if isinstance(default, tuple):
            default = list(default)
        if isinstance(value, list) and not isinstance(default, list) and default is not None:
            return False
        return value == default

    def value(self, key: str, value: Any) -> str:
        if _is_serialized(value):
            family = value["module"].rsplit(".", 1)[-1]
            if family not in ("initializers", "regularizers", "constraints"):
                raise ScriptError(f"the setting {key} ({value['class_name']}) has no plain Keras spelling here")
            args = ", ".join(f"{k}={v!r}" for k, v in value["config"].items() if v is not None)
            return f"keras.{family}.{value['class_name']}({args})"
        return repr(value)

    def arguments(self, class_name: str, config: Mapping) -> list[str]:
        klass = getattr(self.keras.layers, class_name, None)
        if klass is None:
            raise ScriptError(f"the layer type {class_name} is not one of Keras' own layers (a run from an older "
                              "pricecast version): the script cannot define it. Train the run again, then export")
        defaults = self.defaults(klass)
        out = []
        for key, value in config.items():
            if key == "trainable" and value is True:
                continue
            if key == "dtype":
                policy = value.get("config", {}).get("name") if isinstance(value, dict) else value
                if policy not in (None, "float32"):
                    out.append(f"dtype={policy!r}")
                continue
            if key in defaults and self.same(key, value, defaults[key]):
                continue
            out.append(f"{key}={self.value(key, value)}")
        return out


def _tensor_refs(value: Any, multi: set[str]) -> None:
    """Adds to ``multi`` the layers whose output tensor past the first is read in ``value``."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        name, _, t = value["config"]["keras_history"]
        if t:
            multi.add(name)
    elif isinstance(value, (dict, list)):
        for v in value.values() if isinstance(value, dict) else value:
            _tensor_refs(v, multi)


def _listed(value: list) -> list[list]:
    """``input_layers``/``output_layers``: one ``[name, node, tensor]`` or a list of them."""
    return [value] if value and not isinstance(value[0], list) else value


def network_code(config: Mapping, indent: str = "    ") -> list[str]:
    """Lines of Python that build the functional model of ``config`` (``model.keras``'s config.json)
    into ``model``: one line per layer call, tensors named after their layers."""
    coder = _Coder()
    graph = _strip_ids(config["config"])
    taken: set[str] = set()
    multi: set[str] = set()  # layers whose output is read past its first tensor (a tuple of outputs)
    for layer in graph["layers"]:
        _tensor_refs(layer.get("inbound_nodes", []), multi)
    tensors: dict[tuple[str, int], str] = {}

    def ref(history: list) -> str:
        name, node, t = history
        var = tensors[(name, int(node))]
        return f"{var}[{t}]" if name in multi else var

    def code(value: Any) -> str:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return ref(value["config"]["keras_history"])
        if isinstance(value, list):
            return "[" + ", ".join(code(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {code(v)}" for k, v in value.items()) + "}"
        return repr(value)

    lines = []
    for layer in graph["layers"]:
        name, cls, cfg = layer["name"], layer["class_name"], layer["config"]
        if cls == "InputLayer":
            var = _ident(name, taken)
            shape = tuple(cfg.get("batch_shape") or [None, *cfg.get("shape", [])])[1:]
            lines.append(f"{var} = keras.Input(shape={shape!r}, name={name!r})")
            tensors[(name, 0)] = var
            continue
        args = ", ".join(coder.arguments(cls, cfg))
        nodes = layer.get("inbound_nodes") or []
        made = f"layers.{cls}({args})"
        if len(nodes) > 1:  # a shared layer: made once, called once per node
            holder = _ident(name + "_layer", taken)
            lines.append(f"{holder} = {made}")
            made = holder
        for i, node in enumerate(nodes):
            call_args = [code(a) for a in node.get("args", [])]
            # ``training``/``mask`` as recorded at the symbolic call are not settings: fit and predict set them
            kwargs = {k: v for k, v in (node.get("kwargs") or {}).items()
                      if not (k == "training" or (k == "mask" and v is None))}
            call_args += [f"{k}={code(v)}" for k, v in kwargs.items()]
            var = _ident(name if i == 0 else f"{name}_{i}", taken)
            tensors[(name, i)] = var
            lines.append(f"{var} = {made}({', '.join(call_args)})")
    ins, outs = _listed(graph["input_layers"]), _listed(graph["output_layers"])
    in_code = ref(ins[0]) if len(ins) == 1 else "[" + ", ".join(ref(i) for i in ins) + "]"
    out_code = ref(outs[0]) if len(outs) == 1 else "[" + ", ".join(ref(o) for o in outs) + "]"
    lines.append(f"model = keras.Model({in_code}, {out_code}, name={graph.get('name', 'model')!r})")
    return [indent + line for line in lines]


# ---- the script ------------------------------------------------------------------------------------
def check_supported(run: Run) -> None:
    """Refuse what the script does not reproduce, naming it."""
    w = run.spec.window
    derived = [f for f in w.features if f not in CANDLE_COLUMNS]
    if derived:
        raise ScriptError(f"the exported script supports candle columns as inputs ({', '.join(CANDLE_COLUMNS)}); "
                          f"this run also uses derived inputs it cannot compute: {', '.join(derived)}")
    if run.spec.scaling not in ("minmax", "standard", "logratio"):
        raise ScriptError(f"the exported script cannot reproduce the scaling '{run.spec.scaling}'")
    if not get_target(w.target).is_price:
        raise ScriptError(f"the exported script forecasts prices; this run forecasts {get_target(w.target).label} "
                          f"('{w.target}', with its own transform and naive baselines)")


def script_text(run: Run, data_file: str = "") -> str:
    """The standalone script for ``run`` (``data_file``: the CSV it reads by default)."""
    check_supported(run)
    s, w, t, m = run.spec, run.spec.window, run.spec.train, run.spec.model
    config = model_config(run.run_dir)
    lr = run.metrics.get("learning_rate") or m.learning_rate
    settings = {
        "DATA": data_file, "FEATURES": list(w.features), "TARGET": w.target, "N": w.n, "K": w.k,
        "STRIDE": w.stride, "SPLIT": list(w.split), "SCALING": s.scaling, "EPOCHS": t.epochs,
        "BATCH_SIZE": t.batch_size, "PATIENCE": t.patience, "SEED": t.seed, "SHUFFLE": t.shuffle,
        "OPTIMIZER": m.optimizer, "LEARNING_RATE": float(lr), "LOSS": m.loss,
        "DECIDE": bool(t.persistence_floor), "FLOOR_P": t.floor_p,
    }
    setting_lines = "\n".join(f"{k} = {pprint.pformat(v, width=100)}" for k, v in settings.items())
    test = run.metrics.get("test") or {}
    header = (f"Train again: {display_name(s.data)}, {m.arch.upper()}, N={w.n} -> K={w.k}.\n\n"
              f"Generated by pricecast from the run {Path(run.run_dir).name}\n"
              f"(its test RMSE {test.get('rmse', float('nan')):.6g}, persistence {test.get('persistence_rmse', float('nan')):.6g}).\n"
              "Needs only numpy, pandas and keras. Run:  python THIS_FILE [--data candles.csv] [--epochs E]\n"
              "The CSV needs a time column and the candle columns (open, high, low, close, volume).")
    return _TEMPLATE.replace("@HEADER@", header.replace('"""', "'''")).replace("@SETTINGS@", setting_lines) \
        .replace("@NETWORK@", "\n".join(network_code(config))).replace("@OPTIMIZER_CLASS@", _optimizer(m.optimizer))


def _optimizer(name: str) -> str:
    return {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD", "adamw": "AdamW"}[name]


def write_script(run_dir: Path | str, out: Path | str, data_out: Path | str | None = None) -> tuple[Path, Path | None]:
    """Write the script to ``out`` and, where the run's data loads here, its candles beside it
    (``data_out``, default ``<out stem>_data.csv``) so the script runs as it is. Returns both paths."""
    run = load_run(run_dir)
    check_supported(run)
    out = Path(out)
    csv_path: Path | None = Path(data_out) if data_out else out.with_name(out.stem + "_data.csv")
    try:
        candles = load_data(run.spec.data, offline=True).candles
    except (PricecastError, OSError, ValueError):
        candles, csv_path = None, None
    text = script_text(run, csv_path.name if csv_path and csv_path.parent == out.parent else str(csv_path or ""))
    out.write_text(text, encoding="utf-8")
    if candles is not None and csv_path is not None:
        write_candles_csv(candles, csv_path)
    return out, csv_path


def candles_csv(candles: pd.DataFrame) -> str:
    """Candles as the script reads them: a ``time`` column (UTC, ISO) and the candle columns, every
    number read back bit for bit (its shortest repr), so the script's windows equal the run's exactly."""
    frame = candles[list(CANDLE_COLUMNS)].copy()
    frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.index.name = "time"
    return frame.to_csv()


def write_candles_csv(candles: pd.DataFrame, path: Path | str) -> Path:
    path = Path(path)
    path.write_text(candles_csv(candles), encoding="utf-8")
    return path


_TEMPLATE = '''#!/usr/bin/env python3
"""@HEADER@
"""
import argparse
import json
import math

import keras
import numpy as np
import pandas as pd
from keras import layers

# ---- the run's settings ------------------------------------------------------------------------
@SETTINGS@

PRICE_COLUMNS = ("open", "high", "low", "close")


# ---- data: read, split by time, cut windows inside each part -------------------------------------
def read_candles(path):
    frame = pd.read_csv(path)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.set_index("time").sort_index()


def split_rows(rows):
    """Row ranges [start, stop) of the training, validation and test parts, oldest first."""
    train_end = int(round(rows * SPLIT[0]))
    val_end = int(round(rows * (SPLIT[0] + SPLIT[1])))
    return {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, rows)}


def cut_windows(values, target, start, stop):
    """Windows inside rows [start, stop) only: N inputs, the K targets after them, every STRIDE rows."""
    firsts = np.arange(0, stop - start - N - K + 1, STRIDE)
    rows = start + firsts[:, None] + np.arange(N + K)[None, :]
    return values[rows[:, :N]], target[rows[:, N:]], target[rows[:, :N]]  # x, y, target history


# ---- scaling, fitted on the training rows only -----------------------------------------------------
def safe(d):
    d = np.asarray(d, dtype=np.float64)
    return np.where(d == 0, 1.0, d)


def fit_scaler(values, target, rows):
    v, t = values[rows[0]:rows[1]], target[rows[0]:rows[1]]
    if SCALING == "minmax":
        return {"lo": v.min(axis=0), "hi": v.max(axis=0), "t_lo": t.min(), "t_hi": t.max()}
    if SCALING == "standard":
        return {"mean": v.mean(axis=0), "std": v.std(axis=0), "t_mean": t.mean(), "t_std": t.std()}
    lv = np.log1p(v)  # used for volume only: prices are divided by their window's last value instead
    return {"log_mean": lv.mean(axis=0), "log_std": lv.std(axis=0)}


def scale_x(p, x):
    if SCALING == "minmax":
        out = (x - p["lo"]) / safe(p["hi"] - p["lo"])
    elif SCALING == "standard":
        out = (x - p["mean"]) / safe(p["std"])
    else:
        out = np.empty(x.shape)
        for j, name in enumerate(FEATURES):
            if name in PRICE_COLUMNS:
                out[..., j] = np.log(x[..., j] / x[:, -1:, j])
            else:  # volume
                out[..., j] = (np.log1p(x[..., j]) - p["log_mean"][j]) / safe(p["log_std"][j])
    return out.astype(np.float32)


def scale_y(p, y, history):
    if SCALING == "minmax":
        out = (y - p["t_lo"]) / safe(p["t_hi"] - p["t_lo"])
    elif SCALING == "standard":
        out = (y - p["t_mean"]) / safe(p["t_std"])
    else:
        out = np.log(y / history[:, -1:])
    return np.asarray(out, dtype=np.float32)


def unscale_y(p, y, history):
    y = np.asarray(y, dtype=np.float64)
    if SCALING == "minmax":
        return y * safe(p["t_hi"] - p["t_lo"]) + p["t_lo"]
    if SCALING == "standard":
        return y * safe(p["t_std"]) + p["t_mean"]
    return history[:, -1:] * np.exp(y)


# ---- the network -----------------------------------------------------------------------------------
def build_network():
@NETWORK@
    model.compile(optimizer=keras.optimizers.@OPTIMIZER_CLASS@(learning_rate=LEARNING_RATE), loss=LOSS)
    return model


class KeepBest(keras.callbacks.Callback):
    """Remembers the weights of the lowest validation loss and puts them back at the end."""

    def __init__(self):
        super().__init__()
        self.best, self.best_epoch, self.weights = math.inf, 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_loss")
        if value is not None and np.isfinite(value) and value < self.best:
            self.best, self.best_epoch, self.weights = value, epoch + 1, self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


class Batches(keras.utils.PyDataset):
    """The training windows in batches, reshuffled every epoch from SEED (Keras's own shuffle of
    arrays repeats one order every epoch on TensorFlow once a seed is set)."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.rng = np.random.default_rng(SEED)
        self.order = np.arange(len(x))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.x) / BATCH_SIZE)

    def __getitem__(self, i):
        rows = np.sort(self.order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE])
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        if SHUFFLE:
            self.rng.shuffle(self.order)


def paired_p(diff, lag):
    """Two-sided p of mean(diff) = 0 with a Newey-West variance over `lag` lags (overlapping windows)."""
    d = np.asarray(diff, dtype=np.float64)
    m = d.size
    if m < 3:
        return 1.0, 0.0
    c = d - d.mean()
    var = float(c @ c) / m
    for j in range(1, min(lag, m - 1) + 1):
        var += 2 * (1 - j / (lag + 1)) * float(c[j:] @ c[:-j]) / m
    if var <= 0:
        return (1.0, 0.0) if d.mean() == 0 else (0.0, math.copysign(math.inf, d.mean()))
    t = float(d.mean() / math.sqrt(var / m))
    return float(math.erfc(abs(t) / math.sqrt(2))), t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DATA, help="the candles CSV (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()

    candles = read_candles(args.data)
    values = candles[FEATURES].to_numpy(dtype=np.float64)
    target = candles[TARGET].to_numpy(dtype=np.float64)
    parts = {name: cut_windows(values, target, a, b) for name, (a, b) in split_rows(len(candles)).items()}
    scaler = fit_scaler(values, target, split_rows(len(candles))["train"])
    (x_tr, y_tr, h_tr), (x_va, y_va, h_va), (x_te, y_te, h_te) = parts["train"], parts["val"], parts["test"]
    print(f"windows: training {len(x_tr)}, validation {len(x_va)}, test {len(x_te)}")
    train_x, train_y = scale_x(scaler, x_tr), scale_y(scaler, y_tr, h_tr)
    val_x, val_y = scale_x(scaler, x_va), scale_y(scaler, y_va, h_va)

    keras.utils.set_random_seed(SEED)
    model = build_network()
    keep = KeepBest()  # the network keeps its best-validation epoch's weights
    callbacks = [keep]
    if PATIENCE > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE))
    history = model.fit(Batches(train_x, train_y), epochs=args.epochs, validation_data=(val_x, val_y),
                        callbacks=callbacks, verbose=2)
    epochs_run = len(history.history.get("loss", []))
    print(f"the network keeps epoch {keep.best_epoch}")

    def forecast(x, h):
        return unscale_y(scaler, model.predict(scale_x(scaler, x), batch_size=1024, verbose=0), h)

    def window_losses(actual, predicted):  # per window, in price units (absolute error for an MAE loss)
        err = (predicted - actual).reshape(len(actual), -1)
        return (np.abs(err) if LOSS == "mae" else err ** 2).mean(axis=1)

    # The decision, on validation only: use the network, or "no change" (persistence) when the network
    # does not beat it by more than noise (one-sided paired test; the best of `epochs_run` epochs was
    # picked on these windows, hence the Bonferroni factor).
    use_network = True
    if DECIDE and len(y_va):
        theirs = window_losses(y_va, np.repeat(h_va[:, -1:], K, axis=1))
        mine = window_losses(y_va, forecast(x_va, h_va))
        p, t = paired_p(theirs - mine, lag=max(K - 1, 1))
        one_sided = p / 2 if t > 0 else 1 - p / 2
        adjusted = min(1.0, one_sided * max(epochs_run, 1))
        use_network = bool(np.isfinite(mine).all()) and (adjusted < FLOOR_P or FLOOR_P >= 1.0)
        print(f"decision: {'the network' if use_network else 'no change (persistence)'} "
              f"(paired test p = {adjusted:.2g} on validation, needed below {FLOOR_P:g})")

    network = forecast(x_te, h_te)
    persistence = np.repeat(h_te[:, -1:], K, axis=1)
    used = network if use_network else persistence
    network_rmse = float(np.sqrt(np.mean((network - y_te) ** 2)))
    test_rmse = float(np.sqrt(np.mean((used - y_te) ** 2)))
    persistence_rmse = float(np.sqrt(np.mean((persistence - y_te) ** 2)))
    print(f"test RMSE {test_rmse:.6g} (the network's own {network_rmse:.6g})   persistence RMSE "
          f"{persistence_rmse:.6g}   skill vs persistence {1 - test_rmse / persistence_rmse:+.2%}")
    print(json.dumps({"test_rmse": test_rmse, "network_rmse": network_rmse, "persistence_rmse": persistence_rmse}))


if __name__ == "__main__":
    main()
'''
