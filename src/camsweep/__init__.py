"""camsweep: how far can a model's visual explanations be trusted?"""

__version__ = "0.1.0"
