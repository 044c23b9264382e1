"""Execute a notebook that uses the stetho magics in a real kernel of this
interpreter (nbclient + ipykernel) and write its cells' outputs as JSON.

    run_notebook.py OUT.json     (tests/e2e/test_jupyter.py runs it)
"""
import json
import os
import sys
import tempfile

import nbclient
import nbformat

CELLS = [
    "%load_ext stetho",
    "import time\n"
    "def helper_defined_before():\n"
    "    t = time.process_time()\n"
    "    while time.process_time() - t < 0.2:\n"
    "        pass\n"
    "    return [bytearray(1 << 20) for _ in range(8)]",
    "%%stetho --memory exact\n"
    "def html_cell_function():\n"
    "    t = time.process_time()\n"
    "    while time.process_time() - t < 0.3:\n"
    "        pass\n"
    "    return [bytearray(1 << 20) for _ in range(16)]\n"
    "kept = html_cell_function()",
    "%%stetho --text --memory exact\n"
    "def text_cell_function():\n"
    "    t = time.process_time()\n"
    "    while time.process_time() - t < 0.3:\n"
    "        pass\n"
    "text_cell_function()",
    "%stetho --text helper_defined_before()",
    "print(len(kept))",
]

out = sys.argv[1]
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
with tempfile.TemporaryDirectory() as d:
    # a kernel spec naming this very interpreter
    spec = os.path.join(d, "kernels", "stetho-test")
    os.makedirs(spec)
    with open(os.path.join(spec, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                            "{connection_file}"],
                   "display_name": "stetho test", "language": "python"}, f)
    os.environ["JUPYTER_PATH"] = d
    client = nbclient.NotebookClient(nb, kernel_name="stetho-test", timeout=120,
                                     resources={"metadata": {"path": d}})
    client.execute()
with open(out, "w") as f:
    json.dump([c.get("outputs", []) for c in nb.cells], f)
