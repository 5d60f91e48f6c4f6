"""Safe XML parsing for ingest (Salesforce SOAP Outbound Messages).

defusedxml refuses DTDs, entity declarations and external references (billion laughs, XXE, ...);
the element depth is then checked iteratively against the same limit as JSON bodies.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from services.ingest.errors import MalformedBody

MAX_DEPTH = 64  # same limit as JSON bodies (services.ingest.adapters.base.MAX_DEPTH)

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def parse_xml(body: bytes, limit: int = MAX_DEPTH) -> Element:
    """The root element, or MalformedBody (bad XML, DTD/entities/external references, too deep)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError, LookupError, RecursionError) as exc:
        raise MalformedBody(f"body is not acceptable XML: {type(exc).__name__}: {exc}") from None
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise MalformedBody(f"XML nesting deeper than {limit}")
        stack.extend((child, depth + 1) for child in node)
    return root


def local(tag: Any) -> str:
    """'{ns}Name' -> 'Name' (comments/processing instructions have non-string tags -> '')."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def find_local(root: Element, name: str) -> Element | None:
    """The first element anywhere under root (inclusive) whose local name is `name`."""
    for el in root.iter():
        if local(el.tag) == name:
            return el
    return None


def is_nil(el: Element) -> bool:
    return el.get(XSI + "nil") in ("true", "1")


def to_value(el: Element) -> Any:
    """An element as JSON-able data: text for leaves (None when xsi:nil), a dict for elements with children
    (repeated names become lists)."""
    children = list(el)
    if not children:
        return None if is_nil(el) else (el.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        key = local(child.tag)
        if not key:
            continue
        value = to_value(child)
        if key in out:
            prev = out[key]
            out[key] = prev + [value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out
