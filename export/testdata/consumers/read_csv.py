"""Reads a harvest CSV export with pandas, as a data team would, and prints
what it found as JSON for the Go test to check against the exporter's own
column lists and the store's contents (nothing about the format is written
down here):

  bom            whether the file starts with a UTF-8 byte-order mark
  rows           how many data rows pandas read
  columns        the header as pandas read it
  cells          every row as a list of strings, in column order
  formula_cells  every cell that starts with = + - @ TAB or CR
  json_cells     for the columns "before" and "after" (change lists), each
                 non-empty cell decoded with json.loads: its key/value pairs
                 in file order, or the decoding error

Usage: read_csv.py PATH ENCODING
"""
import json
import sys

import pandas as pd

path, encoding = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    bom = f.read(3) == b"\xef\xbb\xbf"
df = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
columns = [str(c) for c in df.columns]
cells = [[str(v) for v in row] for row in df.itertuples(index=False, name=None)]
formula = [
    f"{col}:{v!r}"
    for col in columns
    for v in df[col]
    if v and v[0] in "=+-@\t\r"
]
json_cells = []
for col in ("before", "after"):
    if col not in df.columns:
        continue
    for i, v in enumerate(df[col]):
        if not v:
            continue
        out = {"row": i, "column": col}
        try:
            out["pairs"] = json.loads(v, object_pairs_hook=lambda pairs: [list(p) for p in pairs])
        except ValueError as e:
            out["error"] = f"{e}: {v!r}"
        json_cells.append(out)
print(json.dumps({
    "bom": bom,
    "rows": len(df),
    "columns": columns,
    "cells": cells,
    "formula_cells": formula,
    "json_cells": json_cells,
}, ensure_ascii=False))
