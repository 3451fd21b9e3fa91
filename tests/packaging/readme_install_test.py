#!/usr/bin/env python3
"""README's install steps work as written: the tree `cmake --install` installs from is the one
the steps before it configure and build, with presets and options that exist.

  readme_install_test.py SOURCE_DIR

(packaging.install and packaging.consumer.* then show that an installed tree is usable.)
"""

import json
import re
import shlex
import sys
import unittest
from pathlib import Path

SOURCE = Path(sys.argv.pop(1) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])


def install_block():
    text = (SOURCE / "README.md").read_text(encoding="utf-8")
    section = text.split("### Installing", 1)
    if len(section) < 2:
        raise AssertionError("README.md has no '### Installing' section")
    m = re.search(r"```sh\n(.*?)```", section[1], re.S)
    if not m:
        raise AssertionError("the Installing section has no ```sh block")
    commands = []
    for line in m.group(1).splitlines():
        line = line.split(" # ")[0].strip()
        if line:
            commands.append(shlex.split(line))
    return commands


def presets():
    doc = json.loads((SOURCE / "CMakePresets.json").read_text(encoding="utf-8"))
    configure = {p["name"]: p for p in doc.get("configurePresets", [])}
    build = {p["name"]: p for p in doc.get("buildPresets", [])}
    return configure, build


def binary_dir(configure, name):
    p = configure[name]
    while "binaryDir" not in p and p.get("inherits"):
        parent = p["inherits"]
        p = configure[parent if isinstance(parent, str) else parent[0]]
    return (p["binaryDir"].replace("${sourceDir}", str(SOURCE))
            .replace("${presetName}", name))


def options():
    text = (SOURCE / "CMakeLists.txt").read_text(encoding="utf-8")
    return set(re.findall(r"option\((\w+)", text))


class ReadmeInstallTest(unittest.TestCase):
    def test_installs_from_the_tree_it_configured_and_built(self):
        commands = install_block()
        configure, build = presets()
        configured = built = None
        for i, cmd in enumerate(commands):
            if cmd[:2] == ["cmake", "--preset"]:
                configured = cmd[2]
                self.assertIn(configured, configure, f"no configure preset '{configured}'")
                for arg in cmd[3:]:
                    m = re.fullmatch(r"-D(\w+)=\S+", arg)
                    self.assertTrue(m, f"unexpected argument {arg}")
                    self.assertIn(m.group(1), options(), f"{arg}: no such option in CMakeLists.txt")
            elif cmd[:3] == ["cmake", "--build", "--preset"]:
                built = cmd[3]
                self.assertEqual(built, configured, "builds a preset it did not configure")
                self.assertIn(built, build, f"no build preset '{built}'")
                self.assertEqual(build[built]["configurePreset"], configured)
            elif cmd[:2] == ["cmake", "--install"]:
                self.assertIsNotNone(built, "installs before building")
                self.assertEqual((SOURCE / cmd[2]).resolve(), Path(binary_dir(configure, built)).resolve(),
                                 "installs from a tree the steps did not build")
                self.assertIn("--prefix", cmd)
                return
        self.fail("no `cmake --install` step")

    def test_the_package_step_uses_what_scripts_lib_defines(self):
        first = " ".join(install_block()[0])
        m = re.search(r"\. scripts/lib\.sh && (\w+)", first)
        self.assertTrue(m, first)
        lib = (SOURCE / "scripts" / "lib.sh").read_text(encoding="utf-8")
        self.assertRegex(lib, rf"(?m)^{m.group(1)}\(\)", f"scripts/lib.sh defines no {m.group(1)}")

    def test_every_install_mention_names_a_tree_the_steps_build(self):
        text = (SOURCE / "README.md").read_text(encoding="utf-8")
        configure, _ = presets()
        built = {Path(binary_dir(configure, cmd[3])).resolve()
                 for cmd in install_block() if cmd[:3] == ["cmake", "--build", "--preset"]}
        for tree in re.findall(r"cmake --install (\S+)", text):
            self.assertIn((SOURCE / tree).resolve(), built, f"README installs from {tree}")


if __name__ == "__main__":
    unittest.main()
