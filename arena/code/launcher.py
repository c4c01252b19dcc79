"""The fixed launcher that runs inside the sandbox: import the participant's module and call its entry function.

It is copied into the run's work folder and started by the runtime's Python as
``python -I -B launch.py ROOT MODULE ENTRY [SITE_PACKAGES]``; it imports nothing of Arena's.
"""

SOURCE = r"""
import importlib
import sys

root, module, entry = sys.argv[1:4]
if len(sys.argv) > 4:  # a runtime of the bundle: its virtual environment's packages
    import site

    site.addsitedir(sys.argv[4])
sys.path.insert(0, root)
program = importlib.import_module(module)
function = getattr(program, entry, None)
if not callable(function):
    sys.exit(f"{module}.py has no function {entry}(input_dir, output_dir)")
function("/app/input", "/app/output")
"""
