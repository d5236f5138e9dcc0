"""Checks on what a model file describes, run before a generator is built or handed to the show.

``kwargs``: constructor kwargs (budgeted copy, types and ranges, size bound, fit with the tensors);
``weights``: tensors (layout that cannot blow up memory, finiteness); ``render``: one test frame.
The loaders (``engine.models.loaders``) call the first two on every load; the show calls
:func:`check_renders` before swapping a model in.
"""

from .kwargs import check_kwargs, check_kwargs_fit_weights, check_parameter_bound, parameter_bound, plain_kwargs
from .render import check_renders
from .weights import check_finite, check_tensor_layout, non_finite_counts

__all__ = ["check_finite", "check_kwargs", "check_kwargs_fit_weights", "check_parameter_bound", "check_renders",
           "check_tensor_layout", "non_finite_counts", "parameter_bound", "plain_kwargs"]
