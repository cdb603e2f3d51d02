"""Hand window batches to Keras. Imports Keras: import this only once training starts."""
from __future__ import annotations

import math

import keras
import numpy as np

from .scaling import Scaler
from .windows import WindowPart

# Below this many bytes of scaled inputs the whole part is materialised once and handed to
# ``fit`` as arrays (fastest); above it batches are gathered from the zero-copy views on demand.
MATERIALIZE_LIMIT = 256 * 1024 * 1024


def scaled_arrays(part: WindowPart, scaler: Scaler) -> tuple[np.ndarray, np.ndarray]:
    """The whole part, scaled: (m, n, f) and (m, k) float32 copies."""
    return scaler.transform_x(part.x), scaler.transform_y(part.y, part.history)


def fits_in_memory(part: WindowPart) -> bool:
    return part.x.size * 4 <= MATERIALIZE_LIMIT


class WindowBatches(keras.utils.PyDataset):
    """Batches gathered from window views and scaled on the fly; shuffled per epoch with a seed."""

    def __init__(self, part: WindowPart, scaler: Scaler, batch_size: int, shuffle: bool, seed: int,
                 workers: int = 1) -> None:
        # workers > 1: Keras gathers the next batches in threads while the model trains (prefetch).
        super().__init__(workers=max(1, int(workers)), use_multiprocessing=False)
        self.part, self.scaler, self.batch_size, self.shuffle = part, scaler, batch_size, shuffle
        self._rng = np.random.default_rng(seed)
        self.order = np.arange(len(part))
        if shuffle:
            self._rng.shuffle(self.order)

    def __len__(self) -> int:
        return math.ceil(len(self.part) / self.batch_size)

    def __getitem__(self, index: int):
        idx = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        return (self.scaler.transform_x(self.part.x[idx]),
                self.scaler.transform_y(self.part.y[idx], self.part.history[idx]))

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self.order)


def predict_part(model, part: WindowPart, scaler: Scaler, batch_size: int = 1024) -> np.ndarray:
    """Forecasts in price units for every window of ``part`` (m, k), in chunks to bound memory."""
    k = model.output_shape[-1]
    out = np.empty((len(part), k), dtype=np.float64)
    chunk = 65536
    for start in range(0, len(part), chunk):
        stop = min(start + chunk, len(part))
        x = scaler.transform_x(part.x[start:stop])
        y = np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).reshape(stop - start, k)
        out[start:stop] = scaler.inverse_y(y, part.history[start:stop])
    return out


def predict_parts(model, parts: list[WindowPart], scaler: Scaler, batch_size: int = 1024) -> dict[str, np.ndarray]:
    """Forecasts in price units for several parts: one ``predict`` call when they fit in memory
    together (each call has a fixed start-up cost that dominates short runs), else part by part."""
    parts = [p for p in parts if len(p)]
    if sum(p.x.size for p in parts) * 4 > MATERIALIZE_LIMIT:
        return {p.name: predict_part(model, p, scaler, batch_size) for p in parts}
    k = model.output_shape[-1]
    x = np.concatenate([scaler.transform_x(p.x) for p in parts])
    y = np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).reshape(len(x), k)
    out, start = {}, 0
    for p in parts:
        out[p.name] = scaler.inverse_y(y[start : start + len(p)], p.history)
        start += len(p)
    return out
