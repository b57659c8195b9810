"""Loading and the in-memory form of a data folder (the data contract)."""
from .loading import Dataset, load_dataset  # noqa: F401
