"""Small mutations of the canonical solutions (trusted code: our own edits of HumanEval's).

ast_mutants(problem): one mutant per mutation site in the canonical solution's statements, up to
`limit`, chosen evenly: a comparison flipped (< <=, > >=, == !=), an arithmetic operator swapped
(+ -, * //), an integer constant moved by one, `and`/`or` swapped, `not` dropped, a slice bound
moved by one. With bench_evaluate.wrong_variants (return None, return not, a syntax error) they
are the mutants benchmarks/bench_plus.py judges.
"""

from __future__ import annotations

import ast
import copy

FLIP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv}


def _canonical_statements(problem) -> list[ast.stmt] | None:
    try:
        tree = ast.parse(problem.prompt + problem.canonical_solution)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == problem.entry_point:
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            return body
    return None


def _sites(statements: list[ast.stmt]) -> list[tuple[int, str]]:
    """(node number in walk order, kind) of every place a mutation applies."""
    sites = []
    module = ast.Module(body=statements, type_ignores=[])
    for number, node in enumerate(ast.walk(module)):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in FLIP_CMP:
            sites.append((number, "cmp"))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAP_BIN:
            sites.append((number, "bin"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append((number, "int+"))
            sites.append((number, "int-"))
        elif isinstance(node, ast.BoolOp):
            sites.append((number, "bool"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append((number, "not"))
    return sites


def _apply(statements: list[ast.stmt], site: tuple[int, str]) -> str:
    statements = copy.deepcopy(statements)
    module = ast.Module(body=statements, type_ignores=[])
    number, kind = site
    for i, node in enumerate(ast.walk(module)):
        if i != number:
            continue
        if kind == "cmp":
            node.ops[0] = FLIP_CMP[type(node.ops[0])]()
        elif kind == "bin":
            node.op = SWAP_BIN[type(node.op)]()
        elif kind == "int+":
            node.value += 1
        elif kind == "int-":
            node.value -= 1
        elif kind == "bool":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif kind == "not":
            node.op = ast.UAdd()  # +x: truthiness of x instead of not x (for bools: True/False -> 1/0)
        break
    ast.fix_missing_locations(module)
    return "".join("    " + line + "\n" for line in ast.unparse(module).splitlines())


def ast_mutants(problem, limit: int = 6) -> list[str]:
    statements = _canonical_statements(problem)
    if not statements:
        return []
    sites = _sites(statements)
    if len(sites) > limit:
        step = len(sites) / limit
        sites = [sites[int(i * step)] for i in range(limit)]
    out = []
    for site in sites:
        code = _apply(statements, site)
        if code not in out:
            out.append(code)
    return out
