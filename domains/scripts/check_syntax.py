"""Compile every Python file under the given folders without writing bytecode."""
import pathlib
import sys

failures = 0
count = 0
for folder in sys.argv[1:] or ["."]:
    for path in sorted(pathlib.Path(folder).rglob("*.py")):
        count += 1
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            failures += 1
            print(f"{path}:{error.lineno}: {error.msg}")
print(f"{count} files compiled, {failures} with syntax errors")
sys.exit(1 if failures else 0)
