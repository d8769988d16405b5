"""A stand-in for Segmind's Hunyuan3D API on 127.0.0.1, for tests, demos and benchmarks."""

from .server import StandIn

__all__ = ["StandIn"]
