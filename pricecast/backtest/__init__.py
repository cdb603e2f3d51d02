"""Walk-forward backtests: train on the past, forecast the next fold, slide forward (``walkforward``),
on folds planned by ``spec``, forecast and scored by ``folds``, cached by ``store``, pooled by ``result``."""
