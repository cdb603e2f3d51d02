"""Experiments: a data + window setup x a grid of model variations x repeats, run here or as jobs, with statistics to rank them."""
