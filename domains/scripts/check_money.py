"""Money is never a float: flag float literals and float() calls in pricing and payment code."""
import ast
import pathlib
import sys

problems = []
for folder in ("domains/src/catalog", "domains/src/payment"):
    for path in sorted(pathlib.Path(folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                problems.append(f"{path}:{node.lineno}: float literal {node.value!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "float":
                problems.append(f"{path}:{node.lineno}: float() call")
for problem in problems:
    print(problem)
print(f"money check: {len(problems)} problems")
sys.exit(1 if problems else 0)
