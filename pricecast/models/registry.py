"""Every architecture, declared once: the builders, the checks, the parameter count, the Model
page, the CLI's, links' and YAML's choices (:data:`ARCHITECTURES`) and the experiments read this table.

Adding an architecture: write its module (``models.dlinear`` is the smallest) with an
``Architecture`` entry (``models.common``) that holds its name, label, one plain sentence, the
``ModelSpec`` options it takes, its builder, its shape check and its parameter count; then add the
entry to ``ENTRIES`` below. Nothing else changes.
"""
from __future__ import annotations

from pricecast.models import classic, dlinear, nhits, tcn, transformer
from pricecast.models.common import OPTIONS, Architecture

ENTRIES: tuple[Architecture, ...] = (classic.CNN, classic.LSTM, classic.GRU, classic.MLP, tcn.TCN,
                                     transformer.TRANSFORMER, nhits.NHITS, dlinear.DLINEAR)
ARCHS: dict[str, Architecture] = {a.name: a for a in ENTRIES}
ARCHITECTURES: tuple[str, ...] = tuple(ARCHS)  # the choices of ModelSpec.arch


def taking(setting: str) -> tuple[str, ...] | None:
    """The architectures that take the ``ModelSpec`` setting ``setting``, in registry order; None when
    every one does. Read from what each entry declares (its options, units label, batch norm and head
    extras), so a setting's help says "CNN only" without anyone writing it beside the setting."""
    def takes(a: Architecture) -> bool:
        if setting == "kernel_sizes":  # a TCN's "kernel_size" is the same setting, one value for every block
            return "kernel_sizes" in a.options or "kernel_size" in a.options
        if setting in OPTIONS:
            return setting in a.options
        if setting == "units":
            return bool(a.units_label)
        if setting == "batch_norm":
            return not a.no_batch_norm
        if setting in ("dense_units", "post_activation"):
            return not a.no_head_extras
        return True

    names = tuple(a.name for a in ENTRIES if takes(a))
    return None if len(names) == len(ENTRIES) else names
