"""Trained simpleNN models outside MATLAB: ONNX and PyTorch, both ways.

* ``layouts``: simpleNN's weight, image and feature-map layouts <->
  PyTorch's/ONNX's (numpy only; shared with the comparison's PyTorch side);
* ``export``: ``simplecnn export`` (a model file -> an ONNX graph or a
  torch.export program), with ``verify`` against the port's forward;
* ``importer``: ``simplecnn import`` (a PyTorch state_dict -> a model struct
  the real ``cnn_predict`` loads);
* ``onnx_graph`` / ``torch_net``: the network in each framework (they
  import onnx / torch: the optional extras ``[onnx]`` and ``[torch]``).
"""
