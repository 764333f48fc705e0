"""OData v3 query options as Rock's v1 API accepts them: a lexer, a precedence parser, and a
binder that type-checks against the entity model and compiles ``$filter`` into a Python
predicate over stored rows.

Faithful to ``Microsoft.Data.OData`` 5.x (spec §2.2–2.3, §7):

- literals: ``'text'`` (``''`` escapes a quote), integers (``L`` Int64), decimals (``M``),
  doubles, ``true``/``false``/``null``, ``datetime'…'`` read as organisation-local wall time
  (a trailing ``Z`` is ignored, an explicit offset is "Unrecognized 'Edm.DateTime' literal"),
  ``datetimeoffset'…'``, ``guid'…'``;
- Rock exposes C# enums as ``Edm.String``: ``GroupMemberStatus eq 'Active'`` or ``'1'`` work, a
  bare ``1`` is "A binary operator with incompatible types was detected…";
- ``and``/``or``/``not``, ``eq ne gt ge lt le``, ``add sub mul div mod``, parentheses;
- the v3 functions (``substringof`` not ``contains``, ``startswith``, ``tolower``…);
- navigation paths through ``[DataMember]`` navigations only (``Person/Email``), ``any``/``all``;
- the validation limits: ``MaxNodeCount`` 100, ``MaxAnyAllExpressionDepth`` 1,
  ``MaxExpansionDepth`` 2 (``Groups/GetFamilies`` passes 4).

String comparisons follow SQL Server's default collation: case-insensitive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, Protocol

from pcosync.emulators.rock.schema import EntityDef, Nav, Prop, enum_text

Row = list[Any]
Getter = Callable[[Row], Any]

MAX_NODE_COUNT = 100
MAX_ANY_ALL_DEPTH = 1
MAX_EXPANSION_DEPTH = 2


class ODataError(Exception):
    """An invalid query option; Rock answers 400 "The query specified in the URI is not valid."."""


# ---------------------------------------------------------------------------------------------
# lexer


@dataclass(frozen=True)
class Token:
    kind: str  # ident | literal | ( | ) | , | / | : | end
    text: str
    pos: int
    etype: str = ""  # for literals: the EDM type, or "null"
    value: Any = None


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?([LlMmDdFf])?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_]*")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z)?$"
)
_DATETIMEOFFSET = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TYPED_PREFIXES = {
    "datetime": "Edm.DateTime",
    "datetimeoffset": "Edm.DateTimeOffset",
    "guid": "Edm.Guid",
    "time": "Edm.Time",
    "binary": "Edm.Binary",
    "x": "Edm.Binary",
}


def _parse_datetime(body: str) -> datetime | None:
    m = _DATETIME.match(body)
    if not m:
        return None
    year, month, day, hour, minute, sec, frac, _z = m.groups()
    micro = int((frac or "0").ljust(7, "0")[:6])
    try:
        return datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(sec or 0), micro
        )
    except ValueError:
        return None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch in "(),/:":
            tokens.append(Token(ch, ch, pos))
            pos += 1
            continue
        if ch == "'":
            value, end = _read_string(text, pos)
            tokens.append(Token("literal", text[pos:end], pos, "Edm.String", value))
            pos = end
            continue
        if ch.isdigit() or (ch == "-" and pos + 1 < n and text[pos + 1].isdigit()):
            m = _NUMBER.match(text, pos)
            assert m is not None
            tokens.append(_number_token(m.group(0), pos, text))
            pos = m.end()
            continue
        m = _IDENT.match(text, pos)
        if m:
            word = m.group(0)
            end = m.end()
            prefix = _TYPED_PREFIXES.get(word.lower())
            if prefix and end < n and text[end] == "'":
                _, close = _read_string(text, end)
                tokens.append(
                    _typed_literal(prefix, text[pos:close], text[end + 1 : close - 1], pos, text)
                )
                pos = close
                continue
            lowered = word
            if lowered in ("true", "false"):
                tokens.append(Token("literal", word, pos, "Edm.Boolean", word == "true"))
            elif lowered == "null":
                tokens.append(Token("literal", word, pos, "null", None))
            else:
                tokens.append(Token("ident", word, pos))
            pos = end
            continue
        if ch == "-":
            tokens.append(Token("ident", "-", pos))
            pos += 1
            continue
        raise ODataError(
            f"Syntax error: character '{ch}' is not valid at position {pos} in '{text}'."
        )
    tokens.append(Token("end", "", n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    pos = start + 1
    out: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "'":
            if pos + 1 < len(text) and text[pos + 1] == "'":
                out.append("'")
                pos += 2
                continue
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise ODataError(f"There is an unterminated string literal at position {start} in '{text}'.")


def _number_token(raw: str, pos: int, text: str) -> Token:
    suffix = raw[-1] if raw[-1] in "LlMmDdFf" else ""
    body = raw[:-1] if suffix else raw
    try:
        if suffix in ("M", "m"):
            return Token("literal", raw, pos, "Edm.Decimal", Decimal(body))
        if suffix in ("D", "d"):
            return Token("literal", raw, pos, "Edm.Double", float(body))
        if suffix in ("F", "f"):
            return Token("literal", raw, pos, "Edm.Single", float(body))
        if "." in body or "e" in body or "E" in body:
            return Token("literal", raw, pos, "Edm.Double", float(body))
        value = int(body)
        if suffix in ("L", "l") or not -(2**31) <= value < 2**31:
            return Token("literal", raw, pos, "Edm.Int64", value)
        return Token("literal", raw, pos, "Edm.Int32", value)
    except (ValueError, InvalidOperation):
        raise ODataError(f"Syntax error at position {pos} in '{text}'.") from None


def _typed_literal(etype: str, whole: str, body: str, pos: int, text: str) -> Token:
    def bad() -> ODataError:
        return ODataError(f"Unrecognized '{etype}' literal '{whole}' at '{pos}' in '{text}'.")

    if etype == "Edm.DateTime":
        value = _parse_datetime(body)
        if value is None:
            raise bad()
        return Token("literal", whole, pos, etype, value)
    if etype == "Edm.DateTimeOffset":
        m = _DATETIMEOFFSET.match(body)
        if not m:
            raise bad()
        try:
            parsed = datetime.fromisoformat(body.replace("Z", "+00:00"))
        except ValueError:
            raise bad() from None
        return Token("literal", whole, pos, etype, parsed)
    if etype == "Edm.Guid":
        if not _GUID.match(body):
            raise bad()
        return Token("literal", whole, pos, etype, body.lower())
    raise ODataError(f"The type '{etype}' is not supported by this emulator in '{text}'.")


# ---------------------------------------------------------------------------------------------
# parser (syntax tree)


@dataclass
class Lit:
    etype: str
    value: Any
    pos: int


@dataclass
class PathExpr:
    segments: list[str]
    pos: int


@dataclass
class BinExpr:
    op: str
    left: Node
    right: Node
    pos: int


@dataclass
class UnExpr:
    op: str  # not | negate
    operand: Node
    pos: int


@dataclass
class CallExpr:
    name: str
    args: list[Node]
    pos: int


@dataclass
class LambdaExpr:
    source: PathExpr
    kind: str  # any | all
    var: str | None
    body: Node | None
    pos: int


Node = Lit | PathExpr | BinExpr | UnExpr | CallExpr | LambdaExpr

_COMPARISON = ("eq", "ne", "gt", "ge", "lt", "le")
_OP_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
    "and": "And",
    "or": "Or",
    "add": "Add",
    "sub": "Subtract",
    "mul": "Multiply",
    "div": "Divide",
    "mod": "Modulo",
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _keyword(self, *words: str) -> str | None:
        t = self.tok
        if t.kind == "ident" and t.text in words:
            self.i += 1
            return t.text
        return None

    def _expect(self, kind: str) -> Token:
        t = self.tok
        if t.kind != kind:
            if kind == ")":
                raise ODataError(f"')' or operator expected at position {t.pos} in '{self.text}'.")
            raise ODataError(f"Syntax error at position {t.pos} in '{self.text}'.")
        self.i += 1
        return t

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ODataError(f"Expression expected at position 0 in '{self.text}'.")
        node = self.parse_or()
        if self.tok.kind != "end":
            raise ODataError(f"Syntax error at position {self.tok.pos} in '{self.text}'.")
        return node

    def parse_or(self) -> Node:
        left = self.parse_and()
        while True:
            pos = self.tok.pos
            if self._keyword("or") is None:
                return left
            left = BinExpr("or", left, self.parse_and(), pos)

    def parse_and(self) -> Node:
        left = self.parse_comparison()
        while True:
            pos = self.tok.pos
            if self._keyword("and") is None:
                return left
            left = BinExpr("and", left, self.parse_comparison(), pos)

    def parse_comparison(self) -> Node:
        left = self.parse_additive()
        while True:
            pos = self.tok.pos
            op = self._keyword(*_COMPARISON)
            if op is None:
                return left
            left = BinExpr(op, left, self.parse_additive(), pos)

    def parse_additive(self) -> Node:
        left = self.parse_multiplicative()
        while True:
            pos = self.tok.pos
            op = self._keyword("add", "sub")
            if op is None:
                return left
            left = BinExpr(op, left, self.parse_multiplicative(), pos)

    def parse_multiplicative(self) -> Node:
        left = self.parse_unary()
        while True:
            pos = self.tok.pos
            op = self._keyword("mul", "div", "mod")
            if op is None:
                return left
            left = BinExpr(op, left, self.parse_unary(), pos)

    def parse_unary(self) -> Node:
        pos = self.tok.pos
        if self._keyword("not"):
            return UnExpr("not", self.parse_unary(), pos)
        if self._keyword("-"):
            return UnExpr("negate", self.parse_unary(), pos)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        t = self.tok
        if t.kind == "literal":
            self.i += 1
            return Lit(t.etype, t.value, t.pos)
        if t.kind == "(":
            self.i += 1
            inner = self.parse_or()
            self._expect(")")
            return inner
        if t.kind == "ident" and t.text not in _OP_KIND and t.text not in ("not", "-"):
            self.i += 1
            if self.tok.kind == "(":
                return self._call(t)
            return self._path([t.text], t.pos)
        if t.kind == "end":
            raise ODataError(f"Expression expected at position {t.pos} in '{self.text}'.")
        raise ODataError(f"Syntax error at position {t.pos} in '{self.text}'.")

    def _call(self, name: Token) -> Node:
        self._expect("(")
        args: list[Node] = []
        if self.tok.kind != ")":
            while True:
                args.append(self.parse_or())
                if self.tok.kind == ",":
                    self.i += 1
                    continue
                if self.tok.kind != ")":
                    raise ODataError(
                        f"')' or ',' expected at position {self.tok.pos} in '{self.text}'."
                    )
                break
        self._expect(")")
        return CallExpr(name.text, args, name.pos)

    def _path(self, segments: list[str], pos: int) -> Node:
        while self.tok.kind == "/":
            self.i += 1
            t = self.tok
            if t.kind != "ident":
                raise ODataError(f"Syntax error at position {t.pos} in '{self.text}'.")
            self.i += 1
            if t.text in ("any", "all") and self.tok.kind == "(":
                return self._lambda(PathExpr(segments, pos), t.text, t.pos)
            segments = [*segments, t.text]
        return PathExpr(segments, pos)

    def _lambda(self, source: PathExpr, kind: str, pos: int) -> Node:
        self._expect("(")
        if self.tok.kind == ")":
            self.i += 1
            if kind == "all":
                raise ODataError(f"Syntax error at position {pos} in '{self.text}'.")
            return LambdaExpr(source, kind, None, None, pos)
        var = self._expect("ident").text
        self._expect(":")
        body = self.parse_or()
        self._expect(")")
        return LambdaExpr(source, kind, var, body, pos)


def parse(text: str) -> Node:
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------
# binder: types, then a compiled predicate


class Resolver(Protocol):
    """What the binder needs from the data layer."""

    def getter(self, entity: EntityDef, prop: Prop) -> Getter: ...

    def nav_single(self, entity: EntityDef, nav: Nav) -> Callable[[Row], Row | None]: ...

    def nav_many(self, entity: EntityDef, nav: Nav) -> Callable[[Row], list[Row]]: ...

    def entity(self, name: str) -> EntityDef: ...


_NUMERIC = {
    "Edm.Byte": 0,
    "Edm.Int16": 1,
    "Edm.Int32": 2,
    "Edm.Int64": 3,
    "Edm.Single": 4,
    "Edm.Double": 5,
    "Edm.Decimal": 6,
}
_NO_CONST = object()


@dataclass
class Bound:
    etype: str  # EDM type name, "null", "entity" or "collection"
    fn: Getter
    enum: type[IntEnum] | None = None
    column: str | None = None  # a stored column of the root entity, read directly
    const: Any = _NO_CONST
    entity: EntityDef | None = None
    nav: Nav | None = None
    simple: list[tuple[str, str, Any]] = field(default_factory=list)  # ANDed (col, op, value)
    only_simple: bool = False  # the expression is exactly the AND of ``simple``


@dataclass
class Filter:
    predicate: Callable[[Row], bool]
    simple: list[tuple[str, str, Any]]  # top-level ANDed comparisons column-vs-literal
    node_count: int
    only_simple: bool = False  # nothing but ``simple``: an index range can replace it


def _edm_type(prop: Prop) -> str:
    return prop.ptype.edm


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


_FLIP = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


class Binder:
    def __init__(
        self, text: str, root: EntityDef, resolver: Resolver, max_nodes: int = MAX_NODE_COUNT
    ) -> None:
        self.text = text
        self.root = root
        self.res = resolver
        self.max_nodes = max_nodes
        self.nodes = 0
        self.lambda_depth = 0
        self.vars: dict[str, tuple[EntityDef, Getter]] = {}

    def count(self, n: int = 1) -> None:
        self.nodes += n
        if self.nodes > self.max_nodes:
            raise ODataError(
                f"The node count limit of '{self.max_nodes}' has been exceeded. To increase the "
                "limit, set the 'MaxNodeCount' property on EnableQueryAttribute or "
                "ODataValidationSettings."
            )

    # -- entry points -------------------------------------------------------------------
    def bind_filter(self, node: Node) -> Filter:
        bound = self.bind(node)
        if bound.etype not in ("Edm.Boolean", "null"):
            raise ODataError("The $filter expression must evaluate to a single boolean value.")
        fn = bound.fn
        return Filter(lambda row: fn(row) is True, bound.simple, self.nodes, bound.only_simple)

    def bind(self, node: Node) -> Bound:
        if isinstance(node, Lit):
            self.count()
            return Bound(node.etype, _constant(node.value), const=node.value)
        if isinstance(node, PathExpr):
            return self.bind_path(node)
        if isinstance(node, BinExpr):
            self.count()
            left = self.bind(node.left)
            right = self.bind(node.right)
            if node.op in ("and", "or"):
                return self._logical(node.op, left, right)
            if node.op in _COMPARISON:
                return self._compare(node.op, left, right)
            return self._arith(node.op, left, right)
        if isinstance(node, UnExpr):
            self.count()
            operand = self.bind(node.operand)
            if node.op == "not":
                if operand.etype not in ("Edm.Boolean", "null"):
                    raise ODataError(
                        "A unary operator with an incompatible type was detected. Found operand "
                        f"type '{operand.etype}' for operator kind 'Not'."
                    )
                f = operand.fn
                return Bound("Edm.Boolean", lambda r: not f(r))
            if operand.etype not in _NUMERIC:
                raise ODataError(
                    "A unary operator with an incompatible type was detected. Found operand type "
                    f"'{operand.etype}' for operator kind 'Negate'."
                )
            f = operand.fn
            return Bound(operand.etype, lambda r: None if f(r) is None else -f(r))
        if isinstance(node, CallExpr):
            self.count()
            return self._call(node)
        return self._lambda(node)

    # -- paths -----------------------------------------------------------------------------
    def bind_path(self, node: PathExpr) -> Bound:
        segments = list(node.segments)
        first = segments[0]
        entity: EntityDef | None
        get: Getter
        if first in self.vars:
            entity, get = self.vars[first]
            segments = segments[1:]
            self.count()
            if not segments:
                return Bound("entity", get, entity=entity)
        elif first == "$it":
            entity, get = self.root, _identity
            segments = segments[1:]
            self.count()
        else:
            entity, get = self.root, _identity
            self.count()  # the implicit $it range variable
        at_root = first not in self.vars
        for k, name in enumerate(segments):
            self.count()
            last = k == len(segments) - 1
            if entity is None:
                raise ODataError(f"Could not find a property named '{name}' on this type.")
            prop = entity.props.get(name)
            if prop is not None and prop.edm:
                value_get = self.res.getter(entity, prop)
                if at_root and k == 0 and prop.stored:
                    column: str | None = prop.name
                    fn = value_get
                else:
                    column = None
                    fn = _compose(get, value_get)
                if not last:
                    raise ODataError(
                        f"Could not find a property named '{segments[k + 1]}' on type "
                        f"'{_edm_type(prop)}'."
                    )
                return Bound(_edm_type(prop), fn, enum=prop.enum, column=column)
            nav = entity.navs.get(name)
            if nav is None or not nav.data_member:
                raise ODataError(
                    f"Could not find a property named '{name}' on type '{entity.clr}'."
                )
            target = self.res.entity(nav.target) if nav.target else None
            if nav.many:
                if not last:
                    raise ODataError(
                        f"The parent value for a property access of a property "
                        f"'{segments[k + 1]}' is not a single value. Property access can only "
                        "be applied to a single value."
                    )
                many_get = self.res.nav_many(entity, nav) if target else _empty_list
                return Bound("collection", _compose(get, many_get), entity=target, nav=nav)
            one_get = self.res.nav_single(entity, nav) if target else _none
            get = _compose(get, one_get)
            entity = target
            at_root = False
            if last:
                return Bound("entity", get, entity=target, nav=nav)
        return Bound("entity", get, entity=entity)

    # -- operators -----------------------------------------------------------------------
    def _incompatible(self, op: str, left: Bound, right: Bound) -> ODataError:
        return ODataError(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{left.etype}' and '{right.etype}' for operator kind '{_OP_KIND[op]}'."
        )

    def _logical(self, op: str, left: Bound, right: Bound) -> Bound:
        for side in (left, right):
            if side.etype not in ("Edm.Boolean", "null"):
                raise self._incompatible(op, left, right)
        lf, rf = left.fn, right.fn
        if op == "and":
            return Bound(
                "Edm.Boolean",
                lambda r: lf(r) is True and rf(r) is True,
                simple=left.simple + right.simple,
                only_simple=left.only_simple and right.only_simple,
            )
        return Bound("Edm.Boolean", lambda r: lf(r) is True or rf(r) is True)

    def _enum_literal(self, enum_type: type[IntEnum], value: Any) -> int:
        text = str(value).strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        for member in enum_type:
            if member.name.lower() == text.lower():
                return int(member.value)
        raise ODataError(
            f"The string '{value}' is not a valid value of the enumeration type "
            f"'{enum_type.__name__}'."
        )

    def _compare(self, op: str, left: Bound, right: Bound) -> Bound:
        lt, rt = left.etype, right.etype
        lf, rf = left.fn, right.fn
        # enums are Edm.String in Rock's model: compare with a quoted name or number
        if left.enum is not None or right.enum is not None:
            enum_side, other = (left, right) if left.enum is not None else (right, left)
            if other.etype == "null":
                pass
            elif other.etype == "Edm.String" and other.const is not _NO_CONST:
                assert enum_side.enum is not None
                number = self._enum_literal(enum_side.enum, other.const)
                other = Bound("Edm.Int32", _constant(number), const=number)
                if enum_side is left:
                    right = other
                else:
                    left = other
                lf, rf = left.fn, right.fn
            elif other.etype == "Edm.String" and other.enum is not None:
                pass
            elif other.etype == "Edm.String":
                enum_type = enum_side.enum
                assert enum_type is not None
                fn = enum_side.fn

                def as_name(r: Row, _f: Getter = fn, _e: type[IntEnum] = enum_type) -> Any:
                    v = _f(r)
                    return None if v is None else enum_text(_e, v)

                if enum_side is left:
                    lf = as_name
                else:
                    rf = as_name
            else:
                raise self._incompatible(op, left, right)
        elif lt == "null" or rt == "null" or lt == rt or (lt in _NUMERIC and rt in _NUMERIC):
            pass
        else:
            raise self._incompatible(op, left, right)
        simple: list[tuple[str, str, Any]] = []
        if left.column is not None and right.const is not _NO_CONST:
            simple = [(left.column, op, right.const)]
        elif right.column is not None and left.const is not _NO_CONST:
            simple = [(right.column, _FLIP[op], left.const)]
        strings = "Edm.String" in (lt, rt) and left.enum is None and right.enum is None
        exact = bool(simple) and not strings and simple[0][2] is not None
        return Bound(
            "Edm.Boolean", _comparison(op, lf, rf, strings), simple=simple, only_simple=exact
        )

    def _arith(self, op: str, left: Bound, right: Bound) -> Bound:
        numeric = left.etype in _NUMERIC and right.etype in _NUMERIC
        if not numeric and "null" not in (left.etype, right.etype):
            raise self._incompatible(op, left, right)
        etype = max((left.etype, right.etype), key=lambda t: _NUMERIC.get(t, -1))
        lf, rf = left.fn, right.fn

        def run(r: Row) -> Any:
            a, b_ = lf(r), rf(r)
            if a is None or b_ is None:
                return None
            try:
                if op == "add":
                    return a + b_
                if op == "sub":
                    return a - b_
                if op == "mul":
                    return a * b_
                if op == "div":
                    return a // b_ if isinstance(a, int) and isinstance(b_, int) else a / b_
                return a % b_
            except (ZeroDivisionError, InvalidOperation):
                return None

        return Bound(etype, run)

    # -- functions -------------------------------------------------------------------------
    def _call(self, node: CallExpr) -> Bound:
        sig = _FUNCTIONS.get(node.name)
        if sig is None:
            raise ODataError(
                f"An unknown function with name '{node.name}' was found. This may also be a key "
                "lookup on a navigation property, which is not allowed."
            )
        args = [self.bind(a) for a in node.args]
        for params, result, impl in sig.overloads:
            if len(params) != len(args):
                continue
            if all(_accepts(p, a) for p, a in zip(params, args, strict=True)):
                fns = [
                    _as_string(a) if p == "Edm.String" else a.fn
                    for p, a in zip(params, args, strict=True)
                ]
                return Bound(result, _apply(impl, fns))
        considered = ", ".join(
            f"{node.name}({', '.join(f'{p} Nullable=true' for p in params)})"
            for params, _, _ in sig.overloads
        )
        raise ODataError(
            f"No function signature for the function with name '{node.name}' matches the "
            f"specified arguments. The function signatures considered are: {considered}."
        )

    def _lambda(self, node: LambdaExpr) -> Bound:
        self.count()
        source = self.bind_path(node.source)
        if source.etype != "collection":
            raise ODataError(
                f"The '{node.kind}' query option must be applied to a collection, but "
                f"'{'/'.join(node.source.segments)}' is not a collection."
            )
        self.lambda_depth += 1
        if self.lambda_depth > MAX_ANY_ALL_DEPTH:
            raise ODataError(
                f"The Any/All nesting limit of '{MAX_ANY_ALL_DEPTH}' has been exceeded. "
                "'MaxAnyAllExpressionDepth' can be configured on ODataQuerySettings or "
                "EnableQueryAttribute."
            )
        many_fn = source.fn
        try:
            if node.var is None or node.body is None:
                return Bound("Edm.Boolean", lambda r: bool(many_fn(r)))
            cell: list[Row | None] = [None]
            entity = source.entity
            if entity is None:
                return Bound("Edm.Boolean", lambda r: node.kind == "all")
            self.vars[node.var] = (entity, lambda _r: cell[0])
            body = self.bind(node.body)
            del self.vars[node.var]
            if body.etype not in ("Edm.Boolean", "null"):
                raise ODataError(f"The expression of '{node.kind}' must be a boolean.")
            body_fn = body.fn
            if node.kind == "any":

                def any_fn(r: Row) -> bool:
                    for item in many_fn(r):
                        cell[0] = item
                        if body_fn(r) is True:
                            return True
                    return False

                return Bound("Edm.Boolean", any_fn)

            def all_fn(r: Row) -> bool:
                for item in many_fn(r):
                    cell[0] = item
                    if body_fn(r) is not True:
                        return False
                return True

            return Bound("Edm.Boolean", all_fn)
        finally:
            self.lambda_depth -= 1


def _constant(value: Any) -> Getter:
    return lambda _row: value


def _identity(row: Row) -> Row:
    return row


def _none(_row: Row) -> None:
    return None


def _empty_list(_row: Row) -> list[Row]:
    return []


def _compose(outer: Getter, inner: Getter) -> Getter:
    if outer is _identity:
        return inner

    def composed(row: Row) -> Any:
        target = outer(row)
        return None if target is None else inner(target)

    return composed


def _comparison(op: str, lf: Getter, rf: Getter, strings: bool) -> Getter:
    if op == "eq":
        if strings:
            return lambda r: _casefold(lf(r)) == _casefold(rf(r))
        return lambda r: lf(r) == rf(r)
    if op == "ne":
        if strings:
            return lambda r: _casefold(lf(r)) != _casefold(rf(r))
        return lambda r: lf(r) != rf(r)

    import operator

    cmp = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}[op]

    def ordered(r: Row) -> bool:
        a, b_ = lf(r), rf(r)
        if a is None or b_ is None:
            return False
        if strings:
            a, b_ = _casefold(a), _casefold(b_)
        return bool(cmp(a, b_))

    return ordered


@dataclass(frozen=True)
class _Signature:
    overloads: list[tuple[tuple[str, ...], str, Callable[..., Any]]]


def _accepts(param: str, arg: Bound) -> bool:
    if arg.etype == "null":
        return True
    if param == "Edm.String":
        return arg.etype == "Edm.String"
    if param == "number":
        return arg.etype in _NUMERIC
    if param == "date":
        return arg.etype in ("Edm.DateTime", "Edm.DateTimeOffset")
    if param == "Edm.Int32":
        return arg.etype in ("Edm.Int32", "Edm.Int16", "Edm.Byte")
    return arg.etype == param


def _as_string(arg: Bound) -> Getter:
    if arg.enum is None:
        return arg.fn
    f, e_type = arg.fn, arg.enum
    return lambda r: None if f(r) is None else enum_text(e_type, f(r))


def _apply(impl: Callable[..., Any], fns: Sequence[Getter]) -> Getter:
    if len(fns) == 1:
        (f0,) = fns
        return lambda r: impl(f0(r))
    if len(fns) == 2:
        f0, f1 = fns
        return lambda r: impl(f0(r), f1(r))
    return lambda r: impl(*(f(r) for f in fns))


def _ci(fn: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def run(a: Any, b_: Any) -> bool:
        if a is None or b_ is None:
            return False
        return fn(a.casefold(), b_.casefold())

    return run


def _nullsafe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        if any(a is None for a in args):
            return None
        return fn(*args)

    return run


def _substring(s: str, start: int, length: int | None = None) -> str:
    start = max(start, 0)
    return s[start:] if length is None else s[start : start + max(length, 0)]


_S = "Edm.String"
_FUNCTIONS: dict[str, _Signature] = {
    "startswith": _Signature([((_S, _S), "Edm.Boolean", _ci(lambda a, b_: a.startswith(b_)))]),
    "endswith": _Signature([((_S, _S), "Edm.Boolean", _ci(lambda a, b_: a.endswith(b_)))]),
    "substringof": _Signature([((_S, _S), "Edm.Boolean", _ci(lambda a, b_: a in b_))]),
    "tolower": _Signature([((_S,), _S, _nullsafe(str.lower))]),
    "toupper": _Signature([((_S,), _S, _nullsafe(str.upper))]),
    "trim": _Signature([((_S,), _S, _nullsafe(str.strip))]),
    "length": _Signature([((_S,), "Edm.Int32", _nullsafe(len))]),
    "indexof": _Signature(
        [((_S, _S), "Edm.Int32", _nullsafe(lambda a, b_: a.casefold().find(b_.casefold())))]
    ),
    "substring": _Signature(
        [
            ((_S, "Edm.Int32"), _S, _nullsafe(_substring)),
            ((_S, "Edm.Int32", "Edm.Int32"), _S, _nullsafe(_substring)),
        ]
    ),
    "concat": _Signature([((_S, _S), _S, _nullsafe(lambda a, b_: a + b_))]),
    "replace": _Signature([((_S, _S, _S), _S, _nullsafe(lambda a, b_, c: a.replace(b_, c)))]),
    "year": _Signature([(("date",), "Edm.Int32", _nullsafe(lambda d: d.year))]),
    "month": _Signature([(("date",), "Edm.Int32", _nullsafe(lambda d: d.month))]),
    "day": _Signature([(("date",), "Edm.Int32", _nullsafe(lambda d: d.day))]),
    "hour": _Signature([(("date",), "Edm.Int32", _nullsafe(lambda d: d.hour))]),
    "minute": _Signature([(("date",), "Edm.Int32", _nullsafe(lambda d: d.minute))]),
    "second": _Signature([(("date",), "Edm.Int32", _nullsafe(lambda d: d.second))]),
    "round": _Signature([(("number",), "Edm.Double", _nullsafe(round))]),
    "floor": _Signature([(("number",), "Edm.Double", _nullsafe(math.floor))]),
    "ceiling": _Signature([(("number",), "Edm.Double", _nullsafe(math.ceil))]),
}


def compile_filter(
    text: str, root: EntityDef, resolver: Resolver, max_nodes: int = MAX_NODE_COUNT
) -> Filter:
    return Binder(text, root, resolver, max_nodes).bind_filter(parse(text))


# ---------------------------------------------------------------------------------------------
# $orderby, $select, $expand, $top, $skip


@dataclass(frozen=True)
class OrderKey:
    getter: Getter
    descending: bool
    column: str | None  # a stored column of the root entity
    strings: bool


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for k, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return parts


def parse_orderby(text: str, root: EntityDef, resolver: Resolver) -> list[OrderKey]:
    keys: list[OrderKey] = []
    for part in _split_top_level(text):
        item = part.strip()
        if not item:
            raise ODataError(f"Expression expected at position 0 in '{text}'.")
        descending = False
        words = item.rsplit(None, 1)
        if len(words) == 2 and words[1] in ("asc", "desc"):
            item, descending = words[0], words[1] == "desc"
        parser = _Parser(item)
        node = parser.parse()
        binder = Binder(item, root, resolver, max_nodes=10_000)
        bound = binder.bind(node)
        if bound.etype in ("entity", "collection"):
            raise ODataError(
                "The $orderby expression must evaluate to a single value of primitive type."
            )
        getter = bound.fn
        if bound.enum is not None:
            pass  # enums order by their numeric value, as SQL stores them
        keys.append(
            OrderKey(
                getter, descending, bound.column, bound.etype == "Edm.String" and bound.enum is None
            )
        )
    return keys


@dataclass
class ExpandTree:
    children: dict[str, ExpandTree] = field(default_factory=dict)


def parse_expand(
    text: str, root: EntityDef, resolver: Resolver, max_depth: int = MAX_EXPANSION_DEPTH
) -> ExpandTree:
    tree = ExpandTree()
    for part in text.split(","):
        path = part.strip()
        if not path:
            continue
        segments = path.split("/")
        if len(segments) > max_depth:
            raise ODataError(
                "The request includes a $expand path which is too deep. The maximum depth allowed "
                f"is {max_depth}. To increase the limit, set the 'MaxExpansionDepth' property on "
                "EnableQueryAttribute or ODataValidationSettings."
            )
        entity: EntityDef | None = root
        node = tree
        for seg in segments:
            if entity is None:
                raise ODataError(f"Could not find a property named '{seg}' on this type.")
            nav = entity.navs.get(seg)
            if nav is None or not nav.data_member:
                prop = entity.props.get(seg)
                if prop is not None and prop.edm:
                    raise ODataError(
                        f"Property '{seg}' on type '{entity.clr}' is not a navigation property. "
                        "Only navigation properties can be expanded."
                    )
                raise ODataError(f"Could not find a property named '{seg}' on type '{entity.clr}'.")
            node = node.children.setdefault(seg, ExpandTree())
            entity = resolver.entity(nav.target) if nav.target else None
    return tree


Selection = dict[str, "Selection | None"]


def parse_select(
    text: str, root: EntityDef, expand: ExpandTree, resolver: Resolver
) -> Selection | None:
    """What to keep: ``{name: None}`` for a property or a whole navigation, ``{nav: {...}}``
    for ``Nav/Prop`` paths; ``None`` means everything (``*``)."""
    keep: Selection = {}
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        if item == "*":
            return None
        segments = item.split("/")
        entity: EntityDef | None = root
        node: Selection = keep
        tree = expand
        for k, seg in enumerate(segments):
            last = k == len(segments) - 1
            if entity is None:
                raise ODataError(f"Could not find a property named '{seg}' on this type.")
            if seg == "*" and last and k > 0:
                break
            prop = entity.props.get(seg)
            if prop is not None and prop.edm:
                if not last:
                    raise ODataError(
                        f"Could not find a property named '{segments[k + 1]}' on "
                        f"type '{_edm_type(prop)}'."
                    )
                node.setdefault(seg, None)
                break
            nav = entity.navs.get(seg)
            if nav is None or not nav.data_member:
                raise ODataError(f"Could not find a property named '{seg}' on type '{entity.clr}'.")
            if seg not in tree.children:
                raise ODataError(
                    "Only properties specified in $expand can be traversed in $select query "
                    f"options. Selected item: '{item}'."
                )
            tree = tree.children[seg]
            entity = resolver.entity(nav.target) if nav.target else None
            if last or segments[k + 1] == "*":
                node[seg] = None
                break
            sub = node.get(seg)
            if sub is None:
                if seg in node:
                    break  # the whole navigation is already selected
                sub = {}
                node[seg] = sub
            node = sub
    return keep


def parse_count(name: str, text: str) -> int:
    raw = text.strip()
    if not re.fullmatch(r"\d+", raw):
        raise ODataError(
            f"Invalid value '{text}' for {name} query option found. The {name} query option "
            "requires a non-negative integer value."
        )
    return int(raw)
