"""Deployment of a plain (or distilled) student: the graph it is deployed
as, its FLOPs, its ONNX export, ONNX Runtime parity and latency."""
from .complexity import complexity
from .model import (DeployModel, build_plain_model, input_shape_of,
                    preprocess_info, task_of, val_batches)

__all__ = ['complexity', 'DeployModel', 'build_plain_model',
           'input_shape_of', 'preprocess_info', 'task_of', 'val_batches']
