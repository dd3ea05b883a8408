"""An import-linter contract type the built-in ones lack: a whitelist.

``forbidden`` contracts list what a module must not import, so a new dependency slips through
until someone adds it to the list. ``allowed_imports`` turns that round: every module matched by
``source_modules`` may import only the standard library, the modules matched by
``allowed_modules``, and the imports listed in ``ignore_imports`` (each with its reason in
``pyproject.toml``). Registered in ``[tool.importlinter] contract_types``; ``lint-imports``
finds this module because it puts the working directory on ``sys.path``.
"""

from __future__ import annotations

import fnmatch
import sys
from typing import Any, cast

from importlinter import Contract, ContractCheck, fields, output


def _matches(module: str, patterns: list[str]) -> bool:
    """True when ``module`` is a pattern or inside one; ``*`` stands for one name."""
    for pattern in patterns:
        parts = pattern.split(".")
        names = module.split(".")
        if len(names) >= len(parts) and all(
            fnmatch.fnmatchcase(n, p) for n, p in zip(names, parts, strict=False)
        ):
            return True
    return False


class AllowedImportsContract(Contract):
    type_name = "allowed_imports"

    source_modules = fields.ListField(subfield=fields.StringField())
    allowed_modules = fields.ListField(subfield=fields.StringField())
    ignore_imports = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        # The fields are descriptors typed as fields; on an instance they hold the values.
        sources = cast(list[str], self.source_modules)
        allowed = cast(list[str], self.allowed_modules)
        ignored = {
            tuple(part.strip() for part in line.split("->"))
            for line in cast(list[str] | None, self.ignore_imports) or []
        }
        checked = sorted(m for m in graph.modules if _matches(m, sources))
        broken: list[tuple[str, str]] = []
        for module in checked:
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                top = imported.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                if _matches(imported, allowed) or (module, imported) in ignored:
                    continue
                broken.append((module, imported))
        if not checked:
            # A whitelist that matches nothing checks nothing: say so rather than pass.
            broken.append(("(no module matched source_modules)", ", ".join(sources)))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module, imported in check.metadata["broken"]:
            output.print_error(f"{module} imports {imported}, which is not on its whitelist")
            output.new_line()
