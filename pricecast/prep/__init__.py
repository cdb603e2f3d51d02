"""From candles to model inputs without look-ahead: windows cut per part (``windows``) and scalers
fitted on the training rows only (``scaling``).
"""
