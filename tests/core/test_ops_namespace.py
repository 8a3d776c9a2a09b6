"""``pyro.ops``, a sub-namespace that several distributions fill (core tests: no other package needed)."""

import glob
import os
import subprocess
import sys
import textwrap

import pytest

import pyro
import pyro.ops

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(code):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=120)


def distributions_installed():
    try:
        import pyro.distributions  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def test_ops_init_extends_its_path_first():
    with open(pyro.ops.__file__) as f:
        first_line = f.readline()
    assert "pkgutil" in first_line and "extend_path" in first_line


def test_only_pyro_core_ships_the_ops_init():
    inits = glob.glob(os.path.join(REPO, "packages", "*", "src", "pyro", "ops", "__init__.py"))
    assert [os.path.relpath(p, REPO) for p in inits] == [
        os.path.join("packages", "pyro-core", "src", "pyro", "ops", "__init__.py")
    ]
    assert os.path.isfile(os.path.join(REPO, "packages", "pyro-distributions", "src", "pyro", "ops",
                                       "indexing.py"))


MISSING_DISTRIBUTIONS = """
    import sys
    sys.path = [p for p in sys.path if "pyro-distributions" not in p]
    for finder in list(sys.meta_path):
        if "pyro_distributions" in type(finder).__module__ or "__editable__" in type(finder).__module__:
            sys.meta_path.remove(finder)
    import pyro
    import pyro.ops.jit, pyro.ops.score_parts  # the core's own modules stay importable
    try:
        import pyro.ops.indexing
    except ModuleNotFoundError as e:
        print("ERROR:", e, "|", e.name)
    else:
        print("imported", pyro.ops.indexing.__file__)
    try:
        import pyro.ops.no_such_module
    except ModuleNotFoundError as e:
        print("ERROR:", e)
"""


def test_missing_ops_module_names_its_package_and_extra():
    result = run_python(MISSING_DISTRIBUTIONS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "ERROR: No module named 'pyro.ops.indexing': it is provided by the pyro-distributions "
        'package; install it with: pip install "pyro-core[distributions]" | pyro.ops.indexing',
        "ERROR: No module named 'pyro.ops.no_such_module'",
    ]


def test_finder_explains_ops_modules_only_when_their_package_is_absent(monkeypatch):
    finder = next(f for f in sys.meta_path if type(f).__name__ == "_MissingSubpackageFinder")
    core_only = [p for p in pyro.__path__ if os.path.isdir(os.path.join(p, "plugins"))]
    monkeypatch.setattr(pyro, "__path__", core_only)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "pyro-core\[distributions\]"') as info:
        finder.find_spec("pyro.ops.indexing", None)
    assert info.value.name == "pyro.ops.indexing"
    with pytest.raises(ModuleNotFoundError, match=r"pyro-infer package.*pyro-core\[infer\]"):
        finder.find_spec("pyro.ops.stats", None)
    assert finder.find_spec("pyro.ops.unknown", None) is None
    assert finder.find_spec("pyro.ops.jit.inner", None) is None
    # a folder of the namespace holding the subpackage: the package is installed, so a missing
    # module gets the usual error
    monkeypatch.setattr(pyro, "__path__", core_only + [os.path.join(REPO, "packages", "pyro-infer",
                                                                    "src", "pyro")])
    assert finder.find_spec("pyro.ops.stats", None) is None


@pytest.mark.skipif(not distributions_installed(), reason="needs pyro-distributions")
def test_indexing_imports_from_the_distributions_folder_of_the_namespace():
    import pyro.ops.indexing as indexing
    import pyro.ops.jit as jit

    assert os.path.dirname(indexing.__file__) in pyro.ops.__path__
    assert os.path.dirname(jit.__file__) in pyro.ops.__path__
    assert callable(indexing.vindex) and callable(indexing.index)


ATTRIBUTES_WITHOUT_DISTRIBUTIONS = MISSING_DISTRIBUTIONS.split("    import pyro\n")[0] + """
    import pyro
    print(pyro.ops.jit.trace.__name__, "jit" in dir(pyro.ops))
    print(hasattr(pyro.ops, "indexing"), hasattr(pyro.ops, "no_such_module"))
    try:
        pyro.ops.indexing
    except AttributeError as e:
        print("ERROR:", e)
"""


def test_ops_modules_are_attributes_after_import_pyro_and_missing_ones_say_what_to_install():
    result = run_python(ATTRIBUTES_WITHOUT_DISTRIBUTIONS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[:2] == ["trace True", "False False"]
    assert lines[2].startswith("ERROR: module 'pyro.ops' has no attribute 'indexing' (No module named "
                               "'pyro.ops.indexing': it is provided by the pyro-distributions package")


@pytest.mark.skipif(not distributions_installed(), reason="needs pyro-distributions")
def test_ops_modules_of_other_packages_are_attributes_after_import_pyro():
    result = run_python("""
        import pyro
        print(pyro.ops.indexing.Vindex.__name__, "indexing" in dir(pyro.ops))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Vindex", "True"]
