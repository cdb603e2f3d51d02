"""The service layer: what the dashboard and the command line ask the library to do, above the
experiments and the job machinery. ``experiments`` runs an experiment's trials (``trials``: here, on
local worker processes or on Ray); ``tasks`` holds the dashboard's job kinds and ``dashboard`` its
job registry. Nothing below imports this package."""
