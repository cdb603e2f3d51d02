"""Jobs: trainings, walk-forward backtests, experiments (and the few other things that need
TensorFlow) started from the dashboard run in worker processes, never in the server's.

- :mod:`.task`: a task as data and the runner that does it; :mod:`.tasks`: what the dashboard's
  jobs do, in the worker (the only module here that reaches training); :mod:`.worker`: the
  worker process's main;
- :mod:`.executors`: where it runs (a local process, or Ray) behind one ``launch`` interface;
- :mod:`.job`: one job's state and snapshots, from the :mod:`pricecast.events` its worker sends;
- :mod:`.registry`: jobs per browser session, capacity and queue; :mod:`.dashboard`: the server's one
  registry (``registry()``) and how the dashboard tunes a spec.

Importing this package loads no TensorFlow.
"""
