#!/usr/bin/env python3
"""Fails when a test puts `co_await` inside a Catch2 assertion macro.

Catch2's CHECK/REQUIRE/CHECK_FALSE... expand their expression three times: in
`(void)__builtin_constant_p(expr)`, for real, and in the dead
`while ((void)0, (false) && static_cast<bool>(!!(expr)))` of their do-while. g++ 12 emits the
co_await in the two copies that should never run: the awaited expression is built and
`await_ready`/`await_suspend` run (the coroutine really suspends there) three times;
`await_resume` once. `CHECK(co_await make_task() == 1)` runs the task three times. The THROWS
and NOTHROW forms expand their expression once, but they are refused too, so that the rule
stays simple: await first, then assert on the result (or catch what the await threw).

    const auto v = co_await x;
    CHECK(v == 3);

Usage: no_co_await_in_assertions.py FILE_OR_DIRECTORY...  (a directory means its *.cpp)

The scan drops comments and string/character literals, then follows each call of a macro whose
name starts with CHECK or REQUIRE (optionally CATCH_-prefixed) to its matching closing
parenthesis, so calls spread over several lines are seen too. A co_await in the body of a
lambda written inside the call (a braced block holding a `;`) is the lambda's own and is not
reported (nor is one in a GNU statement expression, which the same rule skips). Not seen:
assertions made through other macros, a co_await hidden in a macro used as an argument, headers
and subdirectories (a directory means its own *.cpp only), and raw string literals (not
understood; no test uses them).
"""

import pathlib
import re
import sys

MACRO = re.compile(r"\b(?:CATCH_)?(?:CHECK|REQUIRE)\w*\s*\(")
CO_AWAIT = re.compile(r"\bco_await\b")


def strip(text):
    """Blanks comments and the contents of string and character literals, keeping newlines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            # A quote inside a number is a digit separator (1'000, 0xff'ff), not a literal.
            if c == "'" and re.search(r"\b\d[\w']*$", text[max(0, i - 64):i]):
                out.append(c)
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def lambda_bodies_blanked(expr):
    """Blanks each braced block that holds a `;`: a lambda's body, whose co_await is the
    lambda's own (the lambda is a coroutine of its own), not the asserting function's."""
    out = list(expr)
    i = 0
    while i < len(out):
        if out[i] == "{":
            depth, j = 1, i + 1
            while j < len(out) and depth:
                depth += {"{": 1, "}": -1}.get(out[j], 0)
                j += 1
            if ";" in out[i:j]:
                out[i + 1:j - 1] = [c if c == "\n" else " " for c in out[i + 1:j - 1]]
            i = j
        else:
            i += 1
    return "".join(out)


def scan(path):
    text = strip(path.read_text(encoding="utf-8"))
    found = []
    for m in MACRO.finditer(text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        inner = lambda_bodies_blanked(text[m.end():j - 1])
        for a in CO_AWAIT.finditer(inner):
            line = text.count("\n", 0, m.end() + a.start()) + 1
            macro = m.group(0).rstrip("( \t\n")
            found.append((line, macro))
    return found


def main(args):
    files = []
    for arg in args:
        p = pathlib.Path(arg)
        files += sorted(p.glob("*.cpp")) if p.is_dir() else [p]
    if not files:
        print("no files to scan", file=sys.stderr)
        return 2
    bad = 0
    for f in files:
        for line, macro in scan(f):
            print(f"{f}:{line}: co_await inside {macro}(...): await first, then assert on the"
                  " result")
            bad += 1
    if bad:
        print(f"{bad} co_await inside Catch assertion macros", file=sys.stderr)
        return 1
    print(f"{len(files)} files: no co_await inside Catch assertion macros")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
