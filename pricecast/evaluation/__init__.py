"""Judging forecasts: metrics and baselines, residual diagnostics, prediction intervals, look-ahead checks, recursive forecasting."""
