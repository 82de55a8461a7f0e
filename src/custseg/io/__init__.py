"""Files in and out: sniffing, reading, writing, model files, rulebooks, engines.

The only layer that touches files, the environment and compute engines.
"""
