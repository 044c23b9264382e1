"""What the programs about exact mode's frame-evaluation hook
(src/agent/evalhook.c) share: whether the interpreter's own frame
evaluation is in place, and allocations deep in the stack."""
import ctypes

_api = ctypes.pythonapi
_api.PyInterpreterState_Get.restype = ctypes.c_void_p
_get = _api._PyInterpreterState_GetEvalFrameFunc
_get.restype, _get.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
_DEFAULT = ctypes.cast(_api._PyEval_EvalFrameDefault, ctypes.c_void_p).value


def own_evaluation():
    """No hook set: the interpreter's own frame evaluation."""
    return _get(_api.PyInterpreterState_Get()) == _DEFAULT


def deep(n, k):
    if n:
        return deep(n - 1, k)
    return [str(i) * 3 for i in range(k)]      # allocations, no calls
