"""Experiments: a data + window setup x a grid of model variations x repeats, run here or as jobs, with
statistics to rank them. Definition in ``spec``, the seed's presets in ``presets``, data in ``candles``,
folders in ``storage``, numbers in ``stats``, running in ``running`` and ``execution``."""
