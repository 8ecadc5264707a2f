"""YAML read by the YAML 1.2 core schema, with duplicate keys refused and its size bounded.

PyYAML implements YAML 1.1, where ``NO``, ``on``, ``y`` and ``off`` are booleans, ``0777`` is
octal, ``1_000`` is a thousand and ``1:30`` is ninety: a scenario filter on territory ``NO``
(Norway) silently matched nothing. :class:`CoreLoader` is PyYAML's safe loader with the
implicit types of the YAML 1.2 core schema only (``true``/``false``, ``null``/``~``/empty,
decimal, ``0o`` and ``0x`` integers, decimal floats and ``.inf``/``.nan``): every other plain
scalar stays text. Dates stay text, and ``<<`` is an ordinary key (merge keys are YAML 1.1).

A mapping that names a key twice is refused (YAML says keys are unique; PyYAML keeps the
last one, silently). Before anything is built, the event stream is scanned: nesting deeper
than :data:`MAX_DEPTH` or a document whose aliases expand to more than :data:`MAX_NODES`
nodes ("billion laughs") is refused, so no file can exhaust the stack or the memory.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode

#: Deepest nesting of sequences and mappings accepted (a policy is about 4 levels deep).
MAX_DEPTH = 100
#: Most nodes a document may hold once its aliases are expanded.
MAX_NODES = 100_000

BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"


class YamlRefused(yaml.MarkedYAMLError):
    """Valid YAML that leadassign refuses: a duplicate key, too deep, too many nodes."""


class CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema implicit types (module doc)."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        """A mapping, refusing a key given twice (named, with both lines)."""
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping", node.start_mark)
        mapping: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                seen = key in mapping
            except TypeError as exc:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    "a key must be a plain value, not a list or a mapping",
                    key_node.start_mark,
                ) from exc
            if seen:
                raise YamlRefused(
                    None,
                    None,
                    f"duplicate key '{key}' (first given on line {first_line[key] + 1}); "
                    "a key may appear only once in a mapping",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
            first_line[key] = key_node.start_mark.line
        return mapping

    def construct_core_int(self, node: ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_core_float(self, node: ScalarNode) -> float:
        text = str(self.construct_scalar(node)).lower()
        sign = -1.0 if text.startswith("-") else 1.0
        bare = text.lstrip("+-")
        if bare == ".inf":
            return sign * float("inf")
        if bare == ".nan":
            return float("nan")
        return float(text)


# none of YAML 1.1's implicit types (yes/no/on/off, octal 0777, 1_000, 1:30, dates, '<<')
CoreLoader.yaml_implicit_resolvers = {}
CoreLoader.add_implicit_resolver(
    BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
CoreLoader.add_implicit_resolver(NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
# int before float: "1" is both, and the first match wins
CoreLoader.add_implicit_resolver(
    INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
CoreLoader.add_implicit_resolver(
    FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
CoreLoader.add_constructor(INT, CoreLoader.construct_core_int)
CoreLoader.add_constructor(FLOAT, CoreLoader.construct_core_float)


def _mark(mark: Any) -> Mark | None:
    """An event's mark as the pure-Python Mark the errors take (the typing stubs allow the
    C one)."""
    return mark if isinstance(mark, Mark) else None


def _check_shape(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and more than MAX_NODES nodes once aliases are
    expanded, from the event stream (iterative: no recursion, nothing built)."""
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for
    open_: list[tuple[str | None, int]] = []  # (anchor, nodes so far) of each open collection
    total = 0
    for event in yaml.parse(text, Loader=CoreLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_) >= MAX_DEPTH:
                raise YamlRefused(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep; leadassign reads no such file",
                    _mark(event.start_mark),
                )
            open_.append((event.anchor, 1))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_.pop()
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        if open_:
            parent_anchor, parent_size = open_[-1]
            open_[-1] = (parent_anchor, parent_size + size)
        else:
            total += size
        if size > MAX_NODES or total > MAX_NODES or (open_ and open_[-1][1] > MAX_NODES):
            raise YamlRefused(
                None,
                None,
                f"its aliases expand to more than {MAX_NODES:,} values; leadassign reads no "
                "such file",
                _mark(event.start_mark),
            )


def load_yaml(text: str) -> Any:
    """The one document of ``text`` by the YAML 1.2 core schema (module doc); YAMLError
    (:class:`YamlRefused` for a duplicate key or a file too deep or too large) otherwise."""
    _check_shape(text)
    return yaml.load(text, Loader=CoreLoader)  # CoreLoader is a SafeLoader


__all__ = ["MAX_DEPTH", "MAX_NODES", "CoreLoader", "YamlRefused", "load_yaml"]
