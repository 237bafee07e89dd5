"""Training and evaluation of the fact-check verifier, cross-encoder and verdict calibration.

- ``datasets``: labelled claim–evidence pairs from the public formats.
- ``train``: the local feature verifier (``python -m newstalk.training.factcheck.train``).
- ``crossenc_train``: the Korean cross-encoder (``python -m newstalk.training.factcheck.crossenc_train``).
- ``finetune``: full fine-tuning of multilingual-e5-small as a cross-encoder (experiment).
- ``evaluate``: ``newstalk eval factcheck`` (model path, gold evidence).
- ``verdict_eval``: ``newstalk eval verdicts`` (product path, retrieved evidence).
- ``calibration_fit``: the Platt fit behind ``newstalk eval verdicts --fit``.
- ``latency``: judge() latency of the local verifier on a labelled file.

The runtime (``newstalk.factcheck``) never imports this package.
"""
