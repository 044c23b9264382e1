"""Allocation-heavy, small objects: builds and drops millions of small
Python objects (instances, dicts, tuples, short strings, lists), with part
of them kept alive across iterations so that the cyclic GC's older
generations get work too.  Models an ORM/ETL-style "load records, index
them, aggregate, throw away" loop.  Pure Python, stdlib only.
"""

import random

import pyperf


class Record:
    def __init__(self, ident, name, tags, score):
        self.ident = ident
        self.name = name
        self.tags = tags
        self.score = score
        self.parent = None
        self.children = []


def one_batch(rng, keep):
    records = []
    for i in range(20000):
        tags = tuple(f"t{rng.randrange(50)}" for _ in range(3))
        rec = Record(i, f"rec-{i}-{rng.randrange(1000)}", tags,
                     {"a": i, "b": float(i) / 3.0, "c": [i, i + 1]})
        if records and i % 4:
            parent = records[rng.randrange(len(records))]
            rec.parent = parent                  # reference cycles
            parent.children.append(rec)
        records.append(rec)
    by_tag = {}
    for rec in records:
        for t in rec.tags:
            by_tag.setdefault(t, []).append(rec)
    summary = {t: (len(rs), sum(r.score["b"] for r in rs)) for t, rs in by_tag.items()}
    keep.append(records[rng.randrange(len(records))])   # survivors
    if len(keep) > 200:
        del keep[:100]
    return summary


def main():
    runner = pyperf.Runner()
    rng = random.Random(42)
    keep = []      # survivors carried from loop to loop
    runner.bench_func("alloc_objects", one_batch, rng, keep)


if __name__ == "__main__":
    main()
