"""subprocess.run of another Python; reports its output/status, exits 4."""
import subprocess
import sys

cp = subprocess.run([sys.executable, "-c",
                     "import sys; print('sub', sys.argv[1:]); sys.exit(3)", "x y"],
                    stdout=subprocess.PIPE, timeout=30)
print("parent got", cp.returncode, cp.stdout.decode().strip(), flush=True)
sys.exit(4)
