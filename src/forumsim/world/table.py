"""A growable columnar table of numpy arrays: the storage behind memberships and ties."""

from __future__ import annotations

import numpy as np


class Table:
    """Named numpy columns of equal length that grow by doubling; rows are never removed.

    `table.name` is a view of the filled part of column `name`, so vectorised updates
    (`table.posts[rows] += 1`) write through to storage.
    """

    def __init__(self, dtypes: dict[str, np.dtype | type], capacity: int = 1024) -> None:
        self._dtypes = dict(dtypes)
        self._columns = {name: np.zeros(capacity, dtype=dt) for name, dt in dtypes.items()}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __getattr__(self, name: str) -> np.ndarray:
        columns = self.__dict__.get("_columns")
        if columns is None or name not in columns:
            raise AttributeError(name)
        return columns[name][: self._size]

    def append(self, **values: np.ndarray | int | float) -> np.ndarray:
        """Append rows (columns not given are zero) and return their row indices."""
        n = max((v.size if isinstance(v, np.ndarray) else np.size(v)
                 for v in values.values()), default=0)
        start, end = self._size, self._size + n
        capacity = len(next(iter(self._columns.values())))
        if end > capacity:
            new_capacity = max(end, 2 * capacity)
            for name, column in self._columns.items():
                grown = np.zeros(new_capacity, dtype=column.dtype)
                grown[:start] = column[:start]
                self._columns[name] = grown
        for name, value in values.items():
            self._columns[name][start:end] = value
        self._size = end
        return np.arange(start, end)
