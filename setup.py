"""`python3 -m pip install --no-build-isolation .`: builds the Python package fool with CMake (offline,
Debian's setuptools; the C++ dependencies come from scripts/setup.sh's Debian packages) and installs
it. The build directory is build-pip/ (FOOL_PIP_BUILD_DIR moves it); CMake is told to build only the
library and the module _fool, for the Python that runs pip."""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.environ.get("FOOL_PIP_BUILD_DIR", os.path.join(ROOT, "build-pip", "cmake"))
        configure = ["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", f"-DFOOL_PYTHON={sys.executable}",
                     "-DFOOL_BUILD_PYTHON=ON", "-DFOOL_BUILD_TESTS=OFF", "-DFOOL_BUILD_BENCH=OFF", "-DFOOL_BUILD_CLI=OFF"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if shutil.which("ccache"):
            configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", build, "--target", "_fool", "-j", str(os.cpu_count() or 1)])
        built = glob.glob(os.path.join(build, "python", "fool", "_fool*.so"))
        if len(built) != 1:
            raise RuntimeError(f"fool: the CMake build made {len(built)} _fool modules in {build}/python/fool")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    name="fool",
    version="0.1.0",
    description="fooling images for image classifiers (the fool library from Python)",
    packages=["fool"],
    package_dir={"fool": "python/fool"},
    ext_modules=[Extension("fool._fool", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
    options={"build": {"build_base": os.path.join("build-pip", "setuptools")},
             "egg_info": {"egg_base": "build-pip"}},
)
