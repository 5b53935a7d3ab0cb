"""llama.cpp's native libraries, loaded before numpy's, and whether this build can offload to a GPU.

On a CUDA machine (CUDA 13, llama-cpp-python 0.3.36 built there) loading a model segfaulted
whenever numpy had been imported before llama_cpp's shared libraries were loaded; importing
llama_cpp first avoided it (docs/generation.md, "GPU"). So every place that can load a model
loads those libraries before numpy: the CLI entry (for the commands that load one) and the TUI's
run_app load them alone (load_llama_first: what `import llama_cpp` does first), and the backend
module imports llama_cpp before numpy. A program that imported numpy first gets a warning when
it offloads (it may still work: the crash is the toolchain's).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

# The CLI commands that may load a model (bare `pycodex` opens the TUI, which may too).
MODEL_COMMANDS = frozenset({"eval", "sweep", "solve", "versus", "repl", "tui", "models"})
# libllama's file names, as llama_cpp's loader tries them (it pulls in the ggml libraries it needs)
_NAMES = {"linux": ("libllama.so",), "darwin": ("libllama.so", "libllama.dylib"), "win32": ("llama.dll", "libllama.dll")}
_early = False  # the libraries were loaded here while numpy was not imported yet


def load_llama_first() -> bool:
    """Load llama.cpp's shared libraries the way `import llama_cpp` does first (the same file,
    ctypes' default mode: a later import gets the same handle), without importing llama_cpp's
    Python side, which imports numpy (a few milliseconds instead of a few tenths of a second:
    the TUI's first frame does not wait for it). False when llama-cpp-python is not installed."""
    global _early
    if _early or "llama_cpp.llama_cpp" in sys.modules:
        return True
    spec = importlib.util.find_spec("llama_cpp")  # (finds the package without running it)
    if spec is None or spec.origin is None:
        return False
    base = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(spec.origin).parent / "lib")
    platform = "linux" if sys.platform.startswith(("linux", "freebsd")) else sys.platform
    for name in _NAMES.get(platform, ()):
        if (base / name).exists():
            try:
                ctypes.CDLL(str(base / name))
            except OSError:
                return False  # llama_cpp's own import will say why
            _early = "numpy" not in sys.modules
            return True
    return False


def loaded_before_numpy() -> bool:
    """True when llama.cpp's libraries were loaded before numpy was imported (by load_llama_first,
    or by importing llama_cpp), or numpy is not imported at all. sys.modules keeps insertion order,
    and a module is inserted before its code runs: llama_cpp.llama_cpp (which loads the libraries,
    and imports no numpy) before numpy."""
    order = list(sys.modules)
    if "numpy" not in sys.modules or _early:
        return True
    return "llama_cpp.llama_cpp" in sys.modules and order.index("llama_cpp.llama_cpp") < order.index("numpy")


def preload_for(argv: list[str]) -> None:
    """The CLI entry's part: load llama_cpp first when the command may load a model (not for
    --help, nor for commands that never load one: they stay fast)."""
    if argv and (argv[0] not in MODEL_COMMANDS or "--help" in argv or "-h" in argv):
        return
    load_llama_first()


def check_offload_order() -> None:
    """One line on stderr when a model is offloaded to a GPU although numpy came first."""
    if not loaded_before_numpy():
        print(
            "warning: numpy was imported before llama_cpp: with some CUDA builds loading the model then crashes "
            "(import llama_cpp first)",
            file=sys.stderr,
        )


def supports_gpu_offload() -> bool:
    """Whether this llama-cpp-python build can offload layers to a GPU (llama_supports_gpu_offload)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())
