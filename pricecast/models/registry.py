"""Every architecture, declared once: the builders, the checks, the parameter count, the Model
page, the CLI's choices (``models.spec.ARCHITECTURES``) and the experiments read this table.

Adding an architecture: write its module (``models.dlinear`` is the smallest) with an
``Architecture`` entry (``models.common``) that holds its name, label, one plain sentence, the
``ModelSpec`` options it takes, its builder, its shape check and its parameter count; then add the
entry to ``ENTRIES`` below. Nothing else changes.
"""
from __future__ import annotations

from pricecast.models import classic, dlinear, nhits, tcn, transformer
from pricecast.models.common import Architecture

ENTRIES: tuple[Architecture, ...] = (classic.CNN, classic.LSTM, classic.GRU, classic.MLP, tcn.TCN,
                                     transformer.TRANSFORMER, nhits.NHITS, dlinear.DLINEAR)
ARCHS: dict[str, Architecture] = {a.name: a for a in ENTRIES}
