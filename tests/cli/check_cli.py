#!/usr/bin/env python3
"""The three programs' command lines, checked against their own --help.

  check_cli.py help-version BIN...          every program and every subcommand (found by walking
                                            the "Subcommands:" of each --help) answers --help and
                                            --version with exit 0; --help lists its flags
  check_cli.py readme README.md BIN...      every command line README.md's code blocks run
                                            (tresse-dispatcher, tresse-webhook, tresse-publish)
                                            names a command that exists and only flags that its
                                            --help lists
"""
import os
import re
import shlex
import subprocess
import sys

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def subcommands(help_text):
    """The names listed under "Subcommands:" in a CLI11 help text."""
    names, inside = [], False
    for line in help_text.splitlines():
        if line.strip() == "Subcommands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+)", line)
            if not m:
                if line.strip() == "" and names:
                    break
                continue
            names.append(m.group(1))
    return names


def flags(help_text):
    """Every --flag a help text shows (the option table and the usage line)."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))


def walk(binary):
    """{("endpoints", "create"): help text, ...} for the program and all its subcommands."""
    found = {}

    def visit(path):
        r = run([binary, *path, "--help"])
        check(r.returncode == 0, "%s --help exits %d: %s" % (" ".join([os.path.basename(binary), *path]), r.returncode, r.stderr.strip()))
        found[tuple(path)] = r.stdout
        for sub in subcommands(r.stdout):
            visit([*path, sub])

    visit([])
    return found


def help_version(binaries):
    for binary in binaries:
        name = os.path.basename(binary)
        commands = walk(binary)
        check(len(commands) >= 1, "%s: no help" % name)
        for path, text in commands.items():
            shown = " ".join([name, *path])
            check(("usage: " + shown) in text, "%s --help shows no 'usage: %s'" % (shown, shown))
            check("--help" in flags(text) and "--version" in flags(text), "%s --help lists neither --help nor --version" % shown)
            v = run([binary, *path, "--version"])
            check(v.returncode == 0, "%s --version exits %d: %s" % (shown, v.returncode, v.stderr.strip()))
            check(re.fullmatch(re.escape(name) + r" \d+\.\d+\.\d+\n", v.stdout) is not None, "%s --version prints %r" % (shown, v.stdout))
        print("%s: --help and --version exit 0 on %d commands" % (name, len(commands)))


def readme_commands(text, programs):
    """(line number, [words]) of every command in a fenced code block that starts one of
    `programs` (after optional VAR=value assignments); continuation lines are joined and
    comments dropped."""
    out, in_block, pending, start = [], False, "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        if pending:
            pending += " " + line.strip()
        else:
            pending, start = line.strip(), n
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        logical, pending = pending, ""
        try:
            words = shlex.split(logical, comments=True)
        except ValueError:
            words = logical.split()
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        if words and words[0] in programs:
            out.append((start, words))
    return out


def readme(path, binaries):
    by_name = {os.path.basename(b): walk(b) for b in binaries}
    text = open(path, encoding="utf-8").read()
    commands = readme_commands(text, by_name)
    check(len(commands) >= 10, "README.md: only %d command lines found" % len(commands))
    for line, words in commands:
        name, rest = words[0], words[1:]
        helps = by_name[name]
        path_ = []
        while rest and tuple(path_ + [rest[0]]) in helps:
            path_.append(rest.pop(0))
        shown = " ".join([name, *path_])
        check(not subcommands(helps[tuple(path_)]), "README.md:%d: `%s` names no runnable command (one of: %s)" % (line, " ".join(words), ", ".join(subcommands(helps[tuple(path_)]))))
        known = flags(helps[tuple(path_)])
        for w in rest:
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", w):
                check(flag in known, "README.md:%d: %s has no %s (see `%s --help`)" % (line, shown, flag, shown))
    print("README.md: %d command lines checked against their --help" % len(commands))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "help-version":
        help_version(sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "readme":
        readme(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
    for f in failures:
        print("FAIL " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
