from os import PathLike
from typing import Any, Optional, Union

import numpy.typing as npt

Array = npt.NDArray[Any]
Path = Optional[Union[str, PathLike[str]]]

def load_data(path: Path = None) -> tuple[tuple[Array, Array], tuple[Array, Array], tuple[Array, Array]]: ...
def load_data_wrapper(path: Path = None) -> tuple[list[tuple[Array, Array]], list[tuple[Array, int]], list[tuple[Array, int]]]: ...
def vectorized_result(j: int) -> Array: ...
