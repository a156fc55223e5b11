"""Reads a harvest CSV export with pandas, as a data team would, and prints
what it found as JSON: rows, columns, the values of some cells, and any cell
that starts with a formula character."""
import json
import sys

import pandas as pd

path, encoding = sys.argv[1], sys.argv[2]
df = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
formula = [
    f"{col}:{v!r}"
    for col in df.columns
    for v in df[col]
    if v and v[0] in "=+-@\t\r"
]
print(json.dumps({
    "rows": len(df),
    "columns": list(df.columns),
    "titles": list(df["title"]),
    "countries": list(df["countries"]),
    "formula_cells": formula,
}, ensure_ascii=False))
