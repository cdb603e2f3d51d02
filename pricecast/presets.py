"""Ready-made setups: the tutorials' own (faithful, including their weaknesses) and a sensible default.

The seed presets keep each tutorial's data, N, K, features, scaler and architecture. What they all
did wrong — fitting the scaler on the whole series — is not reproduced: pricecast fits on the
training part only. Their ``residual`` option is off, because the tutorials predicted prices directly.

Every preset trains offline on bundled data of its tutorial's kind (5-minute BTC, hourly BTC, TSLA
daily); ``live_data`` names the exchange or Yahoo series the tutorial itself downloaded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pricecast.catalogue import setting_text, settings_of
from pricecast.data.datasets import DataRef
from pricecast.data.samples import CATALOGUE
from pricecast.errors import PricecastError
from pricecast.models.registry import ARCHS
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec


class PresetError(PricecastError):
    """A preset name that does not exist, with the names that do."""


OHLC = ("open", "high", "low", "close")
OHLCV = ("open", "high", "low", "volume", "close")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    source: str  # which tutorial, and what differs from it
    spec: RunSpec
    live_data: str = ""  # the tutorial's own live source (needs network), when spec.data is a bundled stand-in
    any_data: bool = False  # made for any series (the default): applying it keeps the user's data unless asked
    why: str = ""  # one plain sentence on what it shows, for the Model page (the target presets)


def _seed_btc(name: str, title: str, model: ModelSpec) -> Preset:
    # Tutorial 000: Poloniex 5-minute USDT_BTC close, N=256 past / K=16 future, non-overlapping
    # windows, MinMax, batch 8, 100 epochs, 80/20 split. The bundled clean stretch of 5-minute BTC
    # (26 days) holds only 28 non-overlapping windows — too few to learn from or to score — so here
    # a window starts every K=16 candles: no two targets overlap, and the parts get about
    # 360 / 30 / 30 examples. Sliding off on the Model page gives the tutorial's exact windows.
    return Preset(
        name, title,
        "tutorial 000 (khuangaf/CryptocurrencyPrediction): Poloniex 5m BTC, N=256, K=16, MinMax, batch 8; "
        "here on bundled Bitstamp 5m BTC (January 2016), a window every 16 candles (the tutorial's "
        "non-overlapping windows leave 28 in 26 days)",
        RunSpec(
            data="sample:BTC-USD-5M",
            window=WindowSpec(n=256, k=16, stride=16, features=("close",), split=(0.8, 0.1, 0.1)),
            scaling="minmax",
            model=model,
            train=TrainSpec(epochs=100, batch_size=8, patience=0),
            preset=name,
        ),
        live_data="poloniex:BTC/USDT:5m",
    )


def _seed_cnn(layers: int, act: str) -> ModelSpec:
    kernels, strides = {2: ((20, 16), (3, 4)), 3: ((8, 8, 8), (3, 2, 2)), 4: ((2, 2, 2, 2), (2, 2, 2, 2))}[layers]
    return ModelSpec(arch="cnn", units=(8,) * (layers - 1) + (1,), kernel_sizes=kernels, strides=strides,
                     cnn_head="conv", activation=act, dropout=0.5, residual=False)


_PRESETS: list[Preset] = [
    Preset(
        "default", "Default: GRU(32), log-ratio, predicts the change",
        "pricecast's default: small GRU on log-ratios to the last price, early stopping; fast on a CPU",
        RunSpec(
            data="sample:AAPL",
            window=WindowSpec(n=30, k=5, features=("close",)),
            scaling="logratio",
            model=ModelSpec(arch="gru", units=(32,), dropout=0.1, residual=True),
            train=TrainSpec(epochs=15, batch_size=64, patience=4),
            preset="default",
        ),
        any_data=True,
    ),
    *[
        _seed_btc(f"seed-cnn-{n}-{'leaky' if a == 'leaky_relu' else 'relu'}",
                  f"Seed {n}-layer CNN ({'LeakyReLU' if a == 'leaky_relu' else 'ReLU'})", _seed_cnn(n, a))
        for n in (2, 3, 4) for a in ("relu", "leaky_relu")
    ],
    _seed_btc("seed-lstm", "Seed LSTM(50) tanh + LeakyReLU",
              ModelSpec(arch="lstm", units=(50,), activation="tanh", dropout=0.8, output_activation="leaky_relu",
                        residual=False)),
    _seed_btc("seed-gru", "Seed GRU(50) + tanh, ReLU output",
              ModelSpec(arch="gru", units=(50,), activation="tanh", post_activation="tanh", dropout=0.2,
                        output_activation="relu", residual=False)),
    Preset(
        "bithumb-eth-lstm", "Bithumb ETH/KRW hourly LSTM + FC(128)",
        "tutorial 001: Bithumb ETH_KRW 1h, OHLC in, next close out, StandardScaler, LSTM(hidden 2) -> "
        "ReLU -> FC(128) -> ReLU -> FC(1). The tutorial trained full-batch for 50,000 epochs at lr 1e-5; "
        "here batch 64, lr 1e-3 and early stopping reach its loss in minutes; offline on bundled Coinbase hourly "
        "BTC/USD (2017-2019)",
        RunSpec(
            data="sample:BTC-USD-1H",
            window=WindowSpec(n=1, k=1, features=OHLC, split=(0.86, 0.07, 0.07)),
            scaling="standard",
            model=ModelSpec(arch="lstm", units=(2,), activation="tanh", post_activation="relu",
                            dense_units=(128,), residual=False, learning_rate=1e-3),
            train=TrainSpec(epochs=200, batch_size=64, patience=20),
            preset="bithumb-eth-lstm",
        ),
        live_data="bithumb:ETH/KRW:1h",
    ),
    Preset(
        "tsla-lstm", "TSLA daily 2xLSTM(50) + Dense(25)",
        "tutorial 003: Yahoo TSLA daily close, PAST_SET=10, MinMax, 80% train, "
        "LSTM(50, sequences) -> LSTM(50) -> Dense(25) -> Dense(1), batch 1, 3 epochs; bundled TSLA 2010-2023 "
        "(a recorded Yahoo response)",
        RunSpec(
            data="sample:TSLA",
            window=WindowSpec(n=10, k=1, features=("close",), split=(0.8, 0.1, 0.1)),
            scaling="minmax",
            model=ModelSpec(arch="lstm", units=(50, 50), dense_units=(25,), activation="tanh",
                            residual=False),
            train=TrainSpec(epochs=3, batch_size=1, patience=0),
            preset="tsla-lstm",
        ),
        live_data="yahoo:TSLA:1d",
    ),
    Preset(
        "lecture-lstm", "Lecture LSTM(16) ReLU, 7 steps, OHLCV",
        "tutorial 004: daily Open, High, Low, Volume, Close; seq_length 7; 70/30 split; LSTM(16, relu); "
        "one step ahead",
        RunSpec(
            data="sample:AAPL",
            window=WindowSpec(n=7, k=1, features=OHLCV, split=(0.7, 0.15, 0.15)),
            scaling="minmax",
            model=ModelSpec(arch="lstm", units=(16,), activation="relu", residual=False),
            train=TrainSpec(epochs=30, batch_size=32, patience=0),
            preset="lecture-lstm",
        ),
    ),
    Preset(
        "slides-stacked-lstm", "Slides: 10 days -> close 5 days later, stacked LSTM + BN",
        "tutorial 002: 10 past days predict 5 days ahead, stacked LSTM with dropout and batch norm, "
        "log-ratio to the last input value",
        RunSpec(
            data="sample:AAPL",
            window=WindowSpec(n=10, k=5, features=("close",)),
            scaling="logratio",
            model=ModelSpec(arch="lstm", units=(32, 32), dropout=0.2, batch_norm=True, residual=True),
            train=TrainSpec(epochs=30, batch_size=32, patience=5),
            preset="slides-stacked-lstm",
        ),
    ),
]



def _modern(name: str, title: str, source: str, n: int, model: ModelSpec, epochs: int = 10) -> Preset:
    # Today's architectures on bundled hourly BTC, all with K=6 (the next six hours) so their
    # results compare; log-ratios and "predict the change", so each starts as persistence.
    return Preset(
        name, title, source,
        RunSpec(
            data="sample:BTC-USD-1H",
            window=WindowSpec(n=n, k=6, features=("close",)),
            scaling="logratio",
            model=model,
            train=TrainSpec(epochs=epochs, batch_size=64, patience=3),
            preset=name,
        ),
    )


_PRESETS += [
    _modern("tcn-btc-hourly", "TCN: dilated causal convolutions, 2 days -> 6 hours",
            "temporal convolutional network (Bai et al. 2018): causal convolutions with dilations 1, 2, 4, ... "
            "until they see all 48 hours, each block added to its input; hourly BTC, N=48, K=6",
            48, ModelSpec(arch="tcn", units=(32,), kernel_sizes=(3,), activation="relu", dropout=0.1, residual=True)),
    _modern("transformer-btc-hourly", "Transformer over 8-hour patches (PatchTST-style), 4 days -> 6 hours",
            "PatchTST-style encoder (Nie et al. 2023): 96 hours cut into 12 patches of 8, linear patch embedding "
            "with learned positions, two attention blocks of width 32; hourly BTC, N=96, K=6",
            96, ModelSpec(arch="transformer", units=(32, 32), patch_len=8, heads=4, activation="relu", dropout=0.1,
                          residual=True), epochs=5),
    _modern("nhits-btc-hourly", "N-HiTS: 3 blocks coarse to fine, 4 days -> 6 hours",
            "N-HiTS (Challu et al. 2023): three MLP blocks that see the window pooled by 4, 2 and 1 hours, each "
            "forecasting and removing what it explained; hourly BTC, N=96, K=6",
            96, ModelSpec(arch="nhits", units=(64, 64, 64), activation="relu", dropout=0.1, residual=True)),
    _modern("dlinear-btc-hourly", "DLinear: trend + remainder, linear, 4 days -> 6 hours",
            "DLinear (Zeng et al. 2023): a 25-hour moving-average trend and the remainder, one linear map each; "
            "the linear baseline the networks must beat; hourly BTC, N=96, K=6",
            96, ModelSpec(arch="dlinear", residual=True), epochs=20),
]



def _target_preset(name: str, title: str, source: str, why: str, target: str, model: ModelSpec) -> Preset:
    # Hourly BTC, two days in, the next six hours out, the hour of day and day of week as inputs:
    # volume and volatility follow a daily and weekly cycle that prices do not have.
    return Preset(
        name, title, source,
        RunSpec(
            data="sample:BTC-USD-1H",
            window=WindowSpec(n=48, k=6, features=(target, "hour", "weekday"), target=target),
            scaling="standard",
            model=model,
            train=TrainSpec(epochs=10, batch_size=64, patience=3),
            preset=name,
        ),
        why=why,
    )


_PRESETS += [
    _target_preset(
        "btc-hourly-volume", "BTC hourly volume: GRU(32) + hour and weekday, 2 days -> 6 hours",
        "forecasts the volume traded in each of the next 6 hours of bundled hourly BTC/USD from the last 48 "
        "hours' volume (log1p, standardised on the training rows) and the time of day and week",
        "Trading volume rises and falls with the hour of the day and the day of the week, so unlike the price "
        "it can be forecast: this network is scored against persistence and against the best of a moving "
        "average and 'same hour yesterday / last week'.",
        "volume", ModelSpec(arch="gru", units=(32,), dropout=0.1, residual=True)),
    _target_preset(
        "btc-hourly-volatility", "BTC hourly volatility (high-low range): GRU(32) + hour and weekday",
        "forecasts the high-low range (relative to the close) of each of the next 6 hours of bundled hourly "
        "BTC/USD from the last 48 hours' ranges and the time of day and week",
        "Volatility clusters (calm hours follow calm hours) and follows the trading day, so it is partly "
        "predictable; the honest yardsticks are persistence, a moving average, an EWMA and 'same hour "
        "yesterday / last week'.",
        "range", ModelSpec(arch="gru", units=(32,), dropout=0.1, residual=True)),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}


def get_preset(name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        raise PresetError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return preset


def describe_data(ref: str) -> str:
    """A plain phrase for the data ``ref`` names: the bundled series' title, or the ref itself."""
    parsed = DataRef.parse(ref)
    base, sample = parsed.with_clean(False), CATALOGUE.get(parsed.sample_name or "")
    text = f"bundled {sample.title} ({base}, offline)" if sample else f"{base} (downloaded, needs network the first time)"
    return text + (", cut to its longest clean stretch" if parsed.clean else "")


def origin_preset(label: str) -> str:
    """The preset a setup started from: ``"custom (from default)"`` -> ``"default"``."""
    found = re.fullmatch(r"custom \(from (.+)\)", label.strip())
    return found.group(1) if found else label.strip()


def preset_label(spec: RunSpec) -> str:
    """The preset's name while ``spec`` still equals it (its data aside: a preset applies to any data),
    ``"custom (from NAME)"`` once any setting differs, and back to ``NAME`` if the edits are undone."""
    origin = origin_preset(spec.preset)
    preset = PRESETS.get(origin)
    if preset is None:
        return spec.preset
    same = spec.replace(data=preset.spec.data, preset=preset.name) == preset.spec
    return preset.name if same else f"custom (from {preset.name})"


# Settings a run label leaves out: where the setup came from, and what it trains on (shown beside it).
# How a run reports its progress (the dashboard asks for live charts) changes none of its results.
REPORTING_ONLY: tuple[str, ...] = ("per_batch_updates", "live_val_predictions")
_NOT_IN_LABEL = ("preset", "data", *REPORTING_ONLY)


def setup_label(spec: RunSpec) -> str:
    """A run named by what differs from its preset: ``"GRU · N=60"`` (the default preset is named by
    its network, as "default" says nothing), ``"tsla-lstm · epochs=10"``, or just the preset's name
    (or the network's) when nothing differs. The data is not part of it (a preset applies to any)."""
    arch = ARCHS[spec.model.arch].short if spec.model.arch in ARCHS else spec.model.arch
    preset = PRESETS.get(origin_preset(spec.preset))
    if preset is None:
        return arch
    head = arch if preset.any_data else preset.name
    mine, theirs = settings_of(spec), settings_of(preset.spec)
    skip = (*_NOT_IN_LABEL, "arch") if preset.any_data else _NOT_IN_LABEL
    diffs = [setting_text(name, value) for name, value in mine.items()
             if name not in skip and value != theirs[name]]
    return " · ".join([head, *diffs])


def kept_as_published(spec: RunSpec) -> str:
    """For a setup that is still a tutorial's preset, unedited: what the tutorial did, in a few words
    (its source line up to the first ';'), so advice about the setup can say it is the tutorial's on
    purpose. ``""`` for any other setup."""
    preset = PRESETS.get(spec.preset)
    if preset is None or preset.any_data or not preset.source.startswith("tutorial"):
        return ""
    return preset.source.split(";", 1)[0]


def labelled(spec: RunSpec) -> RunSpec:
    """``spec`` with its ``preset`` field set by :func:`preset_label` (what URL, runs and files say)."""
    label = preset_label(spec)
    return spec if label == spec.preset else spec.replace(preset=label)


def setup_file_name(spec: RunSpec) -> str:
    """The downloaded YAML's name: ``default-setup.yaml``, ``custom-from-default-setup.yaml``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", spec.preset or spec.model.arch).strip("-") + "-setup.yaml"
