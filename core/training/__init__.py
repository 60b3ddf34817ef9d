"""Training and honest evaluation of the fracture model (issue 4).

Everything here is for developers and clinics that retrain; the app never imports it. torch is an
optional dependency (``pip install '.[train]'``, CPU build ``torch==2.13.0``) and is imported lazily,
only inside the modules that need it (``nets``, ``loop``, ``export_onnx``, ``recipe``), so
``import core.training`` and the numpy-only parts (``cv``, ``baselines``, ``data``,
``card``) work without it.

Modules: ``data`` (FracAtlas / export-folder listings), ``cache`` (decode once through the app's own
``core.imaging.preprocess.prepare``), ``cv`` (grouped stratified folds), ``baselines`` (majority, metadata logistic regression), ``nets``,
``loop`` (fit/predict), ``export_onnx``, ``plots``, ``card`` (model card + MODEL_CARD.md), ``options`` (the recipe a
``train`` run's options ask for, checked), ``recipe``
(cross-validation + final training + shipping, used by ``fracture-triage train``/``evaluate``).
The numpy metrics (ROC/PR/operating points/bootstrap/calibration) live in ``core.evaluation.metrics``,
shared with the clinic's own performance and calibration reports (the app bundle has no ``core.training``).
"""

from __future__ import annotations


def torch_available() -> bool:
    """True when torch can be imported (without importing it more than once)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


TORCH_MISSING = ("training needs PyTorch, which is not installed: pip install 'fracture-triage[train]' "
                 "(CPU build: pip install torch==2.13.0)")
