"""Helpers shared by several test modules (test modules import from here, never from each other).

- ``config``: the repository's paths, the composed Hydra config, the tiny training job.
- ``cli``: ``python -m src.run`` as a subprocess.
- ``jobs``: real training subprocesses (started, killed after an epoch, re-run) and job folders made without training.
- ``data``: image-folder trees on disk.
- ``reports``: sweep folders for the report tests.
- ``zoo``: the registered networks at their small inputs.
- ``tracking_server``: the test tracking server's database password.
"""
