"""Where a key of the merged project was written: file, line and column, after merge and extends.

Positions are looked up lazily, only when an error or warning needs one, so loading a large
project pays nothing for them. The merged project is seen through layers: each file's own
position table (later files win, as they do in the merge), and redirections for services that
inherit keys through ``extends`` (``services.web.image`` may have been written at
``services.base.image``, in this or another file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kompy.errors import KeyPath, SourceLocation
from kompy.yaml.reader import YamlDocument


@dataclass
class _Redirect:
    """Paths under ``prefix`` may have been written under ``source`` in ``target``."""

    prefix: KeyPath
    target: ProjectLocator
    source: KeyPath


@dataclass
class ProjectLocator:
    """A :class:`kompy.model.Locator` for the merged project."""

    documents: list[YamlDocument] = field(default_factory=list)
    redirects: list[_Redirect] = field(default_factory=list)
    # Paths moved by the loader (an included file's services keep their own file's positions).
    children: list[tuple[KeyPath, ProjectLocator, KeyPath]] = field(default_factory=list)

    def add_document(self, document: YamlDocument) -> None:
        self.documents.append(document)

    def redirect(self, prefix: KeyPath, target: ProjectLocator, source: KeyPath) -> None:
        self.redirects.append(_Redirect(prefix, target, source))

    def graft(self, prefix: KeyPath, child: ProjectLocator, source: KeyPath = ()) -> None:
        """Positions under ``prefix`` come from ``child`` (an included file's project)."""
        self.children.append((prefix, child, source))

    def exact(self, path: KeyPath, depth: int = 0) -> SourceLocation | None:
        """The position of exactly ``path``, or None; the last document that has it wins."""
        if depth > 64:  # extends chains are acyclic; this only guards against a loader bug
            return None
        for document in reversed(self.documents):
            mark = document.positions.get(path)
            if mark is not None:
                return SourceLocation(document.file, mark[0], mark[1])
        for prefix, child, source in reversed(self.children):
            if path[: len(prefix)] == prefix:
                found = child.exact((*source, *path[len(prefix):]), depth + 1)
                if found is not None:
                    return found
        for redirect in reversed(self.redirects):
            n = len(redirect.prefix)
            if path[:n] == redirect.prefix:
                found = redirect.target.exact((*redirect.source, *path[n:]), depth + 1)
                if found is not None:
                    return found
        return None

    def locate(self, path: KeyPath) -> SourceLocation | None:
        """The position of ``path`` or of its nearest ancestor that has one."""
        while True:
            found = self.exact(path)
            if found is not None:
                return found
            if not path:
                first = self.first_file()
                return SourceLocation(first) if first else None
            path = path[:-1]

    def first_file(self) -> str | None:
        return self.documents[0].file if self.documents else None
