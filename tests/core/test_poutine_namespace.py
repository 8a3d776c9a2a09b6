"""``pyro.poutine``'s folder is filled by two distributions: pyro-core's handlers and the module
paths pyro-infer gives its inference handlers (core tests: no other package needed)."""

import glob
import os
import subprocess
import sys
import textwrap

import pyro.poutine

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_only_pyro_core_ships_the_poutine_init():
    inits = glob.glob(os.path.join(REPO, "packages", "*", "src", "pyro", "poutine", "__init__.py"))
    assert [os.path.relpath(p, REPO) for p in inits] == [
        os.path.join("packages", "pyro-core", "src", "pyro", "poutine", "__init__.py")]


def test_core_module_paths_of_pyro_1_9():
    from pyro.poutine.indep_messenger import CondIndepStackFrame, IndepMessenger
    from pyro.poutine.plate_messenger import CondIndepStackFrame as Frame
    from pyro.poutine.plate_messenger import PlateMessenger
    from pyro.poutine.reentrant_messenger import ReentrantMessenger
    from pyro.poutine.subsample_messenger import SubsampleMessenger

    assert CondIndepStackFrame is Frame and SubsampleMessenger is PlateMessenger
    assert issubclass(IndepMessenger, PlateMessenger)
    assert ReentrantMessenger is pyro.poutine.messenger.ReentrantMessenger
    plate = IndepMessenger("i", 4, dim=-2)
    assert (plate.name, plate.size, plate.dim) == ("i", 4, -2)


WITHOUT_INFER = """
    import sys
    sys.path = [p for p in sys.path if "pyro-infer" not in p]
    for finder in list(sys.meta_path):
        if "pyro_infer" in type(finder).__module__ or "__editable__" in type(finder).__module__:
            sys.meta_path.remove(finder)
    import pyro.poutine.indep_messenger  # pyro-core's own stay importable
    for name in ("pyro.poutine.enum_messenger", "pyro.poutine.no_such_module"):
        try:
            __import__(name)
        except ModuleNotFoundError as e:
            print("ERROR:", e)
"""


def test_module_of_a_missing_package_names_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(WITHOUT_INFER)], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "ERROR: No module named 'pyro.poutine.enum_messenger': it is provided by the pyro-infer package; "
        'install it with: pip install "pyro-core[infer]"',
        "ERROR: No module named 'pyro.poutine.no_such_module'",
    ]
