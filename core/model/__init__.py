"""The fracture model at run time: model cards (``card``) and the onnxruntime runtime (``runtime``).

Importing this package is cheap: onnxruntime is imported only when a session is created.
"""

from core.model.card import ModelCard, ModelError, Thresholds, load_card, load_verified_card
from core.model.runtime import Model, Prediction, ThreadPlan, cpu_count, find_default_model, load_model, thread_plan

__all__ = [
    "Model",
    "ModelCard",
    "ModelError",
    "Prediction",
    "ThreadPlan",
    "Thresholds",
    "cpu_count",
    "find_default_model",
    "load_card",
    "load_model",
    "load_verified_card",
    "thread_plan",
]
