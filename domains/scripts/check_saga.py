"""Check the checkout saga: every step has a distinct compensation."""
import sys

sys.path.insert(0, "domains/src")
from orders.saga import STEPS  # noqa: E402

problems = [f"step {step} has no compensation" for step, undo in STEPS if not undo]
names = [name for step in STEPS for name in step]
problems += [f"{name} is used twice" for name in set(names) if names.count(name) > 1]
for problem in problems:
    print(problem)
print(f"{len(STEPS)} saga steps checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
