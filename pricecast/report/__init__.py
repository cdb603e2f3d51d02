"""Results that leave the server: a self-contained HTML report (``document``) and a standalone training
script (``script``)."""
