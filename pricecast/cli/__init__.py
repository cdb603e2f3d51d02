"""``python -m pricecast`` / ``pricecast``: everything the dashboard does, without a browser."""
