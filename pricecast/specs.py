"""The training-run spec: data + windows + scaling + model + training options, as one dataclass.

A RunSpec round-trips through JSON (run folders), query parameters and YAML (the dashboard).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import PricecastError
from .models import ModelSpec
from .windows import WindowSpec


class TrainSpecError(PricecastError):
    """A training option that cannot work, with what to change."""


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 20
    batch_size: int = 32
    patience: int = 5  # early stopping on val_loss; 0 turns it off
    seed: int = 42
    shuffle: bool = True
    per_batch_updates: bool = False  # also stream loss after every batch (for long epochs)
    live_val_predictions: bool = False  # send validation forecasts with every epoch event
    # Speed options; the defaults are the plain behaviour. Measured in docs/BENCHMARKS.md.
    pipeline: str = "auto"  # "auto": arrays when they fit in memory, else batches; "batches"; "prefetch"
    workers: int = 2  # threads gathering batches ahead of the model when pipeline is "prefetch"
    jit_compile: bool | None = None  # XLA; None lets Keras decide (TensorFlow: on for GPU, off on CPU)
    mixed_precision: bool = False  # float16 compute, GPU only; on a CPU it is ignored with a warning
    base_batch_size: int = 0  # > 0: linear scaling rule, learning rate x batch_size / base_batch_size

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        """Refuse options that would train nothing (0 epochs) or cannot batch, before any work."""
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value < 1:
                raise TrainSpecError(f"{name.replace('_', ' ')} must be 1 or more (got {value})")
        if self.patience < 0:
            raise TrainSpecError(f"patience must be 0 (off) or more (got {self.patience})")

    @classmethod
    def from_dict(cls, data: dict) -> TrainSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class RunSpec:
    data: str = "sample:AAPL"
    window: WindowSpec = field(default_factory=WindowSpec)
    scaling: str = "logratio"
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    preset: str = ""

    def to_dict(self) -> dict:
        return {
            "data": self.data,
            "window": self.window.to_dict(),
            "scaling": self.scaling,
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "preset": self.preset,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        return cls(
            data=data.get("data", "sample:AAPL"),
            window=WindowSpec.from_dict(data.get("window", {})),
            scaling=data.get("scaling", "logratio"),
            model=ModelSpec.from_dict(data.get("model", {})),
            train=TrainSpec.from_dict(data.get("train", {})),
            preset=data.get("preset", ""),
        )

    def replace(self, **changes) -> RunSpec:
        """A copy with top-level fields replaced (``window=``, ``model=``, ``data=`` ...)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RunSpec(**values)
