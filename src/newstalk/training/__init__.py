"""Training and evaluation tools: model fitting and offline scoring that the service never imports.

Only ``newstalk eval ...`` (lazily, inside the command functions) and ``python -m`` entry
points load these modules; the API, the pipeline stages and the scheduler do not.
"""
