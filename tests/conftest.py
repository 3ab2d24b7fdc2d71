import numpy as np
import pytest

from camsweep.data import synthetic


@pytest.fixture(scope="session")
def shapes_split():
    """Twelve small synthetic test images (deterministic)."""
    return synthetic.generate(synthetic.SyntheticSpec(image_size=48), 12, "test", seed=7)


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)
