"""Check the order state machine: every state reachable, terminal states final,
every target state declared."""
import sys

sys.path.insert(0, "domains/src")
from orders.state_machine import INITIAL, TERMINAL, TRANSITIONS  # noqa: E402

problems = []
for state, actions in TRANSITIONS.items():
    for action, target in actions.items():
        if target not in TRANSITIONS:
            problems.append(f"{state} --{action}--> {target}: unknown state")
seen, todo = {INITIAL}, [INITIAL]
while todo:
    for target in TRANSITIONS.get(todo.pop(), {}).values():
        if target not in seen:
            seen.add(target)
            todo.append(target)
problems += [f"{state}: unreachable from {INITIAL}" for state in TRANSITIONS if state not in seen]
problems += [f"{state}: terminal but has exits" for state in TERMINAL if TRANSITIONS.get(state)]
problems += [f"{state}: no exits but not terminal" for state, actions in TRANSITIONS.items() if not actions and state not in TERMINAL]
for problem in problems:
    print(problem)
print(f"{len(TRANSITIONS)} states checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
