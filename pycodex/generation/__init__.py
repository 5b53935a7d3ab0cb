"""Generation backends: one interface (base.py), the llama.cpp backend and replay backends."""
