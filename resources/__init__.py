"""Data files shipped with the app (ONNX model and its card, icons). Located by ``core.resources``."""
