"""The IPython magics (python/stetho/_magics.py) in a real kernel: a notebook
(tests/jupyter/run_notebook.py) executed by nbclient with ipykernel, on every
interpreter that has them (tests/run installs them); its output cells
checked: the HTML report inline, carrying the cell's function; the text tree
of another cell; a line magic.
"""
import html
import json
import os
import subprocess

import pytest

from conftest import REPO, run


def has(python, *modules):
    code = "; ".join(f"import {m}" for m in modules)
    return subprocess.run([python.path, "-c", code], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def text_of(outputs):
    return "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")


def test_notebook(stetho, python, tmp_path):
    if not has(python, "nbclient", "nbformat", "ipykernel"):
        pytest.skip(f"{python.path} has no nbclient/ipykernel (tests/run installs them)")
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), STETHO=stetho)
    env.pop("STETHO_AGENT", None)
    out = tmp_path / "outputs.json"
    cp = run([python.path, str(REPO / "tests" / "jupyter" / "run_notebook.py"), str(out)],
             cwd=tmp_path, env=env, timeout=300)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")[-3000:]
    cells = json.loads(out.read_text())
    for c in cells:
        assert not [o for o in c if o["output_type"] == "error"], c
    # %%stetho: the HTML report, whole, in an iframe's srcdoc
    shown = [o["data"]["text/html"] for o in cells[2] if o["output_type"] == "display_data"]
    assert len(shown) == 1, cells[2]
    frame = "".join(shown[0])
    assert frame.startswith("<div><iframe srcdoc=\"") and "</iframe>" in frame, frame[:200]
    page = html.unescape(frame.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert page.lstrip().lower().startswith("<!doctype html") and "html_cell_function" in page
    assert "<script src=" not in page and "<link rel=\"stylesheet\" href=" not in page
    # %%stetho --text: the tree of that cell, with its function and memory
    tree = text_of(cells[3])
    assert "text_cell_function" in tree and "Memory:" in tree, tree
    assert "html_cell_function" not in tree, tree
    # %stetho --text statement: one line
    line = text_of(cells[4])
    assert "helper_defined_before" in line and "allocated 8.0" in line, line
    assert text_of(cells[5]).strip() == "16"
