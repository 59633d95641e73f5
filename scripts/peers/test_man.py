#!/usr/bin/env python3
"""The man pages: scripts/man builds relanced(8), relancectl(1), relance-deliver(8) and retry.toml(5), and each renders
without a single groff or man warning. (That retry.toml(5) has every key the loader accepts is
checked by the Swift suite "retry.toml(5)", against the loader's own list.)

Run from the repository root:
    python3 scripts/peers/test_man.py -v
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = {"relanced.8": "RELANCED", "relancectl.1": "RELANCECTL", "relance-deliver.8": "RELANCE-DELIVER", "retry.toml.5": "RETRY.TOML"}


def warnings(page):
    """What groff and man say about a page on standard error, and man's rendering."""
    groff = subprocess.run(["groff", "-mandoc", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    man = subprocess.run(["man", "--warnings=all", "-E", "UTF-8", "-l", page], capture_output=True, text=True, env=env)
    said = groff.stderr + man.stderr
    if groff.returncode or man.returncode:
        said += f"(groff exited {groff.returncode}, man {man.returncode})\n"
    return said, man.stdout


class ManPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="relance-man-")
        subprocess.run([os.path.join(ROOT, "scripts/man"), cls.tmp.name], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_page_renders_without_warnings(self):
        self.assertEqual(sorted(os.listdir(self.tmp.name)), sorted(PAGES))
        for name, title in PAGES.items():
            with self.subTest(page=name):
                said, text = warnings(os.path.join(self.tmp.name, name))
                self.assertEqual(said, "")
                section = name.rsplit(".", 1)[1]
                self.assertIn(f"{title}({section})", text.splitlines()[0])
                self.assertIn("NAME", text)

    def test_each_page_is_in_its_section(self):
        for name, title in PAGES.items():
            with self.subTest(page=name):
                with open(os.path.join(self.tmp.name, name), encoding="utf-8") as f:
                    header = re.search(r"^\.(?:Dt|TH) (\S+) (\d)", f.read(), re.M)
                self.assertEqual(header.groups(), (title, name.rsplit(".", 1)[1]))

    def test_a_warning_fails(self):
        """The check itself: a page with an unknown macro and an empty line is reported."""
        with open(os.path.join(self.tmp.name, "relanced.8"), encoding="utf-8") as f:
            page = f.read()
        broken = os.path.join(self.tmp.name, "broken.8")
        try:
            with open(broken, "w", encoding="utf-8") as f:
                f.write(page.replace(".Sh DESCRIPTION\n", ".Sh DESCRIPTION\n.Bogus\n\n"))
            said, _ = warnings(broken)
            self.assertIn("Bogus", said)
        finally:
            os.remove(broken)


if __name__ == "__main__":
    unittest.main()
