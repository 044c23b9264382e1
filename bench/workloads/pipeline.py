"""A real application from PyPI: a small data pipeline.  Imports pandas
and black (their import is part of the cost, as in a real run), then each
loop: a CSV of 20,000 sales rows parsed with pandas.read_csv, grouped and
aggregated, the result written as JSON and read back, and a Python module
generated from it formatted with black.  The harness installs pandas and
black into its venv (PINS in run.py).
"""

import io
import json
import random

import black
import pandas as pd

import pyperf

REGIONS = ["north", "south", "east", "west", "centre"]
PRODUCTS = [f"p{i:03d}" for i in range(120)]


def make_csv(rng, rows):
    out = io.StringIO()
    out.write("day,region,product,units,price\n")
    for i in range(rows):
        out.write(f"{i % 365},{rng.choice(REGIONS)},{rng.choice(PRODUCTS)},"
                  f"{rng.randrange(1, 50)},{rng.uniform(1, 200):.2f}\n")
    return out.getvalue()


def one_pass(text):
    df = pd.read_csv(io.StringIO(text))
    df["revenue"] = df["units"] * df["price"]
    by = df.groupby(["region", "product"]).agg(units=("units", "sum"),
                                               revenue=("revenue", "sum"),
                                               days=("day", "nunique"))
    top = by.sort_values("revenue", ascending=False).head(200).reset_index()
    doc = json.loads(json.dumps(top.to_dict(orient="records")))
    src = "TABLE = [\n" + "".join(
        f"    {{'region': {r['region']!r}, 'product': {r['product']!r}, "
        f"'units': {r['units']}, 'revenue': {r['revenue']:.2f}, 'days': {r['days']}}},\n"
        for r in doc) + "]\n"
    src += "".join(f"def total_{r['product']}_{r['region']}(x): return x*{r['units']}+1\n"
                   for r in doc[:60])
    return black.format_str(src, mode=black.Mode())


def main():
    runner = pyperf.Runner()
    text = make_csv(random.Random(7), 20000)
    runner.bench_func("pipeline", one_pass, text)


if __name__ == "__main__":
    main()
