"""llama.cpp's native libraries, loaded before numpy's, and whether this build can offload to a GPU.

On a CUDA machine (CUDA 13, llama-cpp-python 0.3.36 built there) loading a model segfaulted
whenever numpy had been imported before llama_cpp's shared libraries were loaded; importing
llama_cpp first avoided it (docs/generation.md, "GPU"). So every place that can load a model
imports llama_cpp before numpy: the CLI entry (for the commands that load one), the TUI's
run_app, and the backend module itself. A program that imported numpy first gets a warning when
it offloads (it may still work: the crash is the toolchain's).
"""

from __future__ import annotations

import sys

# The CLI commands that may load a model (bare `pycodex` opens the TUI, which may too).
MODEL_COMMANDS = frozenset({"eval", "sweep", "solve", "tui", "models"})


def load_llama_first() -> bool:
    """Import llama_cpp (its shared libraries, then its Python face, which imports numpy) unless
    it is imported already. False when llama-cpp-python is not installed (nothing to protect)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def loaded_before_numpy() -> bool:
    """True when llama_cpp's libraries were loaded before numpy was imported, or numpy is not
    imported at all. sys.modules keeps insertion order, and a module is inserted before its code
    runs: llama_cpp.llama_cpp (which loads the libraries, and imports no numpy) before numpy."""
    order = list(sys.modules)
    if "numpy" not in sys.modules:
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
