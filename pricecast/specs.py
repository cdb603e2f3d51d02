"""The training-run spec: data + windows + scaling + model + training options, as one dataclass.

A RunSpec round-trips through JSON (run folders), query parameters and YAML (the dashboard).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from pricecast.errors import PricecastError
from pricecast.field_meta import setting
from pricecast.models.registry import ARCHS
from pricecast.models.spec import ModelSpec
from pricecast.prep.scaling import SCALERS
from pricecast.prep.windows import WindowSpec

PIPELINES: tuple[str, ...] = ("auto", "batches", "prefetch")


class TrainSpecError(PricecastError):
    """A training option that cannot work, with what to change."""


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = setting(20, limits=(1, 10000), at_least=1, help="passes over the training windows (at most)",
                          label="Epochs",
                          explain="How many times training goes through all training examples (at most, with early "
                                  "stopping).")
    batch_size: int = setting(32, limits=(1, 65536), at_least=1, help="windows per update",
                              label="Batch size",
                              explain="How many examples are averaged per update. Smaller = noisier but more updates "
                                      "per epoch.")
    # early stopping on val_loss; 0 turns it off
    patience: int = setting(5, limits=(0, 1000), at_least=0, help="early stopping patience in epochs; 0 = off",
                            label="Early stopping patience",
                            explain="Early stopping: stop when the validation loss has not improved for this many "
                                    "epochs, and keep the best weights. 0 = always run all epochs.")
    seed: int = setting(42, limits=(0, 2**31 - 1), at_least=0, help="random seed (same seed, same result)",
                        label="Random seed",
                        explain="Fixes the random start so the same setup gives the same result.")
    shuffle: bool = setting(True, help="shuffle the training windows every epoch",
                            label="Shuffle training examples each epoch",
                            explain="Mix the order of training examples every epoch (recommended).")
    # also stream loss after every batch (for long epochs); the dashboard's, the CLI prints epochs
    per_batch_updates: bool = setting(False, flag=None, help="also report the loss after every batch")
    # send validation forecasts with every epoch event (the dashboard's live chart)
    live_val_predictions: bool = setting(False, flag=None, help="send validation forecasts with every epoch")
    # Speed options; the defaults are the plain behaviour. Measured in docs/BENCHMARKS.md.
    pipeline: str = setting("auto", choices=PIPELINES,
                            help="auto: arrays when they fit in memory (on TensorFlow, shuffled batches are gathered: Keras "
                                 "would repeat one order every epoch); batches/prefetch: gathered on demand")
    # threads gathering batches ahead of the model when pipeline is "prefetch"; `experiment --workers`
    # is trials at a time, hence the longer flag
    workers: int = setting(2, limits=(1, 64), at_least=1, flag="--pipeline-workers",
                           help="threads gathering batches ahead of the model with --pipeline prefetch")
    # XLA; None lets Keras decide (TensorFlow: on for GPU, off on CPU)
    jit_compile: bool | None = setting(None, help="XLA (best on a GPU); not given: Keras decides",
                                       label="XLA compilation",
                                       explain="Compile the network with XLA. Faster on a GPU for larger models; on a"
                                               " CPU the compile time usually costs more than it saves.")
    # float16 compute, GPU only; on a CPU it is ignored with a warning
    mixed_precision: bool = setting(False, help="float16 compute on a GPU (ignored on a CPU)",
                                    label="Mixed precision (GPU)",
                                    explain="Compute in 16-bit floats on a GPU (about twice as fast on modern GPUs); "
                                            "the forecast itself stays 32-bit. Ignored on a CPU, with a note.")
    # > 0: linear scaling rule, learning rate x batch_size / base_batch_size
    base_batch_size: int = setting(0, limits=(0, 65536), at_least=0,
                                   help="scale the learning rate by batch size / this (linear scaling rule); 0 = off",
                                   label="…tuned for batch size",
                                   explain="Train with a bigger batch (faster) and raise the learning rate in "
                                           "proportion: with the batch size tuned for 32 and a batch of 128, the "
                                           "learning rate is multiplied by 4. The one speed-up that also helps on a "
                                           "CPU.")
    # The network always keeps its own best-validation weights; this decides which forecast the run
    # uses: the network's, or 'no change' when the network does not beat it on validation by more than noise.
    persistence_floor: bool = setting(True, help="fall back to 'no change' (persistence) when the network does not "
                                                 "beat it on validation; the network's own forecast is kept and shown",
                                      label="Fall back to 'no change' when the network does not beat it on validation", widget="toggle",
                                      explain="On: when the trained network does not beat 'no change' (persistence) "
                                              "on the validation part by more than noise (a paired test), the run "
                                              "uses 'no change' as its forecast. The network is kept and shown either"
                                              " way. Off: the run always uses the network.")
    # A best epoch that beats persistence on validation by a hair is noise that usually loses on new data:
    # the network is used only when a paired test on the validation windows says the gain is real
    # (the p-value times the epochs it was picked from, as the best of them was chosen on those windows).
    floor_p: float = setting(0.05, limits=(0.0, 1.0),
                             help="with the fallback on: the network is used only if it beats 'no change' on "
                                  "validation with a paired-test p below this (1 = any gain counts)",
                             label="…needed p below", step=0.01,
                             explain="How sure the paired test must be before the network replaces 'no change': its "
                                     "p-value (times the epochs the best one was picked from) must be below this. 1 ="
                                     " any gain on validation counts.")

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
    data: str = setting("sample:AAPL", flag=None,
                        help="sample:AAPL, a CSV path, EXCHANGE:SYMBOL:TF or synthetic:pattern?noise=0.5")
    window: WindowSpec = field(default_factory=WindowSpec)
    scaling: str = setting("logratio", choices=SCALERS, help="how prices are scaled for the network",
                           label="Scaling",
                           explain="Networks learn best on small numbers. 'logratio' expresses every price relative "
                                   "to the last known one (works across price levels); 'minmax' squeezes prices into "
                                   "0..1 using the training part's range; 'standard' centres them around the training"
                                   " mean.")
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    preset: str = setting("", flag=None, help="the preset this setup started from", label="Preset",
                          explain="Ready-made setups: pricecast's default and faithful copies of the tutorials this "
                                  "project grew from.")

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

    def headline(self) -> str:
        """The setup in one line, as every page and the CLI name it: "N=60 → K=5 · GRU 64, 32"
        (the architecture's short name; units left out where the architecture takes none)."""
        arch = ARCHS.get(self.model.arch)
        name = arch.short if arch else self.model.arch.upper()  # an old run folder's unknown architecture
        units = ", ".join(map(str, self.model.units)) if arch is None or arch.units_label else ""
        return f"N={self.window.n} → K={self.window.k} · {name}" + (f" {units}" if units else "")

    def replace(self, **changes) -> RunSpec:
        """A copy with top-level fields replaced (``window=``, ``model=``, ``data=`` ...)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RunSpec(**values)
