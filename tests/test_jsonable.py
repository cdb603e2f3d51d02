import json
import math

import numpy as np

from pricecast.jsonable import jsonable


def test_numpy_values_nan_and_tuples_become_strict_json():
    value = {1: (np.float32(0.5), np.int64(3), np.bool_(True), np.array([1.0, math.nan])),
             "x": [math.inf, np.str_("a"), None]}
    plain = jsonable(value)
    assert plain == {"1": [0.5, 3, True, [1.0, None]], "x": [None, "a", None]}
    assert json.loads(json.dumps(plain, allow_nan=False)) == plain
    assert type(plain["1"][1]) is int and type(plain["1"][2]) is bool
