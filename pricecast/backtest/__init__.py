"""Walk-forward backtests: train on the past, forecast the next fold, slide forward."""
