"""Hand window batches to Keras. Imports Keras: import this only once training starts."""
from __future__ import annotations

import math

import keras
import numpy as np

from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart

# Below this many bytes of scaled inputs the whole part is materialised once and handed to
# ``fit`` as arrays (fastest); above it batches are gathered from the zero-copy views on demand.
MATERIALIZE_LIMIT = 256 * 1024 * 1024


def scaled_arrays(part: WindowPart, scaler: Scaler) -> tuple[np.ndarray, np.ndarray]:
    """The whole part, scaled: (m, n, f) and (m, k) float32 copies."""
    return scaler.transform_x(part.x), scaler.transform_y(part.y, part.history)


def fits_in_memory(part: WindowPart) -> bool:
    return part.x.size * 4 <= MATERIALIZE_LIMIT


class BatchOrder:
    """The order windows are batched in, epoch after epoch: shuffled with a seed (NumPy's
    generator) when asked. The ``batches`` pipeline and trials trained together both draw it here."""

    def __init__(self, size: int, shuffle: bool, seed: int) -> None:
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.order = np.arange(size)
        if shuffle:
            self._rng.shuffle(self.order)

    def batch(self, index: int, batch_size: int) -> np.ndarray:
        """The windows of batch ``index`` of this epoch, in row order."""
        return np.sort(self.order[index * batch_size : (index + 1) * batch_size])

    def next_epoch(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self.order)


class WindowBatches(keras.utils.PyDataset):
    """Batches gathered from window views and scaled on the fly; shuffled per epoch with a seed."""

    def __init__(self, part: WindowPart, scaler: Scaler, batch_size: int, shuffle: bool, seed: int,
                 workers: int = 1) -> None:
        # workers > 1: Keras gathers the next batches in threads while the model trains (prefetch).
        super().__init__(workers=max(1, int(workers)), use_multiprocessing=False)
        self.part, self.scaler, self.batch_size, self.shuffle = part, scaler, batch_size, shuffle
        self.batches = BatchOrder(len(part), shuffle, seed)

    def __len__(self) -> int:
        return math.ceil(len(self.part) / self.batch_size)

    def __getitem__(self, index: int):
        idx = self.batches.batch(index, self.batch_size)
        return (self.scaler.transform_x(self.part.x[idx]),
                self.scaler.transform_y(self.part.y[idx], self.part.history[idx]))

    def on_epoch_end(self) -> None:
        self.batches.next_epoch()
