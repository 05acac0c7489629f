"""Export: builtins-only TFLite files, verified in LiteRT."""

from src.export.tflite import TfliteReport, convert_to_tflite, export_and_verify, tflite_op_names, verify_tflite

__all__ = ["TfliteReport", "convert_to_tflite", "export_and_verify", "tflite_op_names", "verify_tflite"]
