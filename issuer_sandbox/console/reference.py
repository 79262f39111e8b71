"""The API reference page, rendered from the OpenAPI document, with the test cards and a curl line per call."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from .. import seed
from ..api.openapi import openapi_document
from ..i18n import points
from .auth import login_required

bp = Blueprint("console_reference", __name__)

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    description: str
    example: Any = None


@dataclass
class ResponseDoc:
    status: str
    description: str
    example: str = ""
    codes: list[str] = field(default_factory=list)


@dataclass
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    tag: str
    parameters: list[Parameter]
    request_content_type: str
    request_example: str
    responses: list[ResponseDoc]
    error_codes: list[tuple[str, str, str]]  # (status, code, description)
    curl: str


def _resolve(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local $ref ('#/components/...') so examples and schemas can be read."""
    while isinstance(node, dict) and "$ref" in node and depth < 20:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(target, dict) else {}
        node = target
        depth += 1
    return node


def _example_of(document: dict[str, Any], media: dict[str, Any]) -> Any:
    """The first example of a media type object: 'example', then 'examples', then the schema's example."""
    media = _resolve(document, media)
    if not isinstance(media, dict):
        return None
    if "example" in media:
        return media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict):
        for example in examples.values():
            example = _resolve(document, example)
            if isinstance(example, dict) and "value" in example:
                return example["value"]
    schema = _resolve(document, media.get("schema", {}))
    if isinstance(schema, dict):
        if "example" in schema:
            return schema["example"]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return schema["examples"][0]
    return None


def _all_examples(document: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    media = _resolve(document, media)
    if not isinstance(media, dict):
        return []
    found = []
    if "example" in media:
        found.append(media["example"])
    if isinstance(media.get("examples"), dict):
        for example in media["examples"].values():
            example = _resolve(document, example)
            if isinstance(example, dict) and "value" in example:
                found.append(example["value"])
    return found


def _pretty(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _schema_type(document: dict[str, Any], schema: Any) -> str:
    schema = _resolve(document, schema)
    if not isinstance(schema, dict):
        return ""
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    if schema.get("format"):
        kind = f"{kind} ({schema['format']})"
    if schema.get("enum"):
        kind = f"{kind}: " + " | ".join(str(v) for v in schema["enum"])
    return str(kind)


def _codes_in(value: Any) -> list[tuple[str, str]]:
    """(code, details) of an error example shaped {type, code, details}."""
    if isinstance(value, dict) and isinstance(value.get("code"), str):
        return [(value["code"], str(value.get("details", "")))]
    return []


def inline_code(text: str) -> Markup:
    """The document's descriptions mark code with `backticks`: show it as <code>, everything else escaped."""
    parts = str(escape(text)).split("`")
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))


# The document's alias operations repeat their target's description after this sentence; error responses list
# "`code`: sentence" parts joined by "; ". Each part is translated on its own (see reference_text.py).
_ALIAS = re.compile(
    r"^Alias of `(?P<path>[^`]+)`, kept for clients written before the `/gcb/api` base path\.(?: (?P<rest>.*))?$", re.S
)
_CODE_PART = re.compile(r"^`(?P<code>\w+)`: (?P<text>.*)$", re.S)
LOCATIONS = {"path": _l("path"), "query": _l("query"), "header": _l("header"), "cookie": _l("cookie")}


def document_text(text: str) -> str:
    """A sentence of the OpenAPI document in the page's language; paths, fields and codes stay as they are."""
    if not text:
        return text
    alias = _ALIAS.match(text)
    if alias:
        sentence = _(
            "Alias of `%(path)s`, kept for clients written before the `/gcb/api` base path.", path=alias["path"]
        )
        return sentence + (" " + document_text(alias["rest"]) if alias["rest"] else "")
    parts = re.split(r"; (?=`\w+`: )", text)
    if len(parts) > 1 or _CODE_PART.match(text):
        return _("; ").join(_code_part(part) for part in parts)
    return _(text)


def _code_part(part: str) -> str:
    found = _CODE_PART.match(part)
    if not found:
        return document_text(part)
    return _("`%(code)s`: %(text)s", code=found["code"], text=document_text(found["text"]))


def location(name: str) -> str:
    """Where a parameter goes (path, query, header, cookie), in the page's language."""
    label = LOCATIONS.get(name)
    return str(label) if label is not None else name


def _placeholder(name: str) -> str:
    """rewardLinkCode -> $REWARD_LINK_CODE: a shell variable the reader sets first."""
    return "$" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper().replace("-", "_")


def _security_kinds(document: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    requirements = operation.get("security", document.get("security", []))
    schemes = document.get("components", {}).get("securitySchemes", {})
    kinds = []
    for requirement in requirements if isinstance(requirements, list) else []:
        for name in requirement if isinstance(requirement, dict) else []:
            scheme = _resolve(document, schemes.get(name, {}))
            if isinstance(scheme, dict):
                kinds.append(scheme)
        if kinds:
            break  # the first alternative is the one we show
    return kinds


def build_curl(
    base_url: str,
    method: str,
    path: str,
    parameters: list[Parameter],
    security: list[dict[str, Any]],
    content_type: str,
    example: Any,
) -> str:
    """A copy-and-paste curl command for one call, with $TOKEN and path placeholders for the reader to set."""
    lines = [f"curl -sS -X {method.upper()} " + _double_quoted(_curl_url(base_url, path, parameters))]
    basic, headers = _security_headers(security, lines)
    headers += _parameter_headers(parameters, bearer_present='"Authorization: Bearer $TOKEN"' in headers or basic)
    if path.startswith(("/v1/", "/gateway/")) or headers:
        headers.append(shlex.quote("Accept: application/json"))
    lines += [f"-H {header}" for header in dict.fromkeys(headers)]
    lines += _body_lines(content_type, example)
    return " \\\n  ".join(lines)


def _curl_url(base_url: str, path: str, parameters: list[Parameter]) -> str:
    """The URL with path parameters filled in (example or placeholder) and the required query parameters."""
    url_path = path
    query = []
    for parameter in parameters:
        if parameter.location == "path":
            value = str(parameter.example) if parameter.example not in (None, "") else _placeholder(parameter.name)
            url_path = url_path.replace("{" + parameter.name + "}", value)
        elif parameter.location == "query" and parameter.required:
            value = parameter.example if parameter.example is not None else _placeholder(parameter.name)
            query.append(f"{parameter.name}={value}")
    return base_url.rstrip("/") + url_path + ("?" + "&".join(query) if query else "")


def _security_headers(security: list[dict[str, Any]], lines: list[str]) -> tuple[bool, list[str]]:
    """Headers for the operation's security schemes; HTTP Basic goes on `lines` as -u. Returns (basic, headers)."""
    basic = False
    headers: list[str] = []
    for scheme in security:
        kind, scheme_name = scheme.get("type"), str(scheme.get("scheme", "")).lower()
        if kind == "http" and scheme_name == "basic":
            basic = True
            lines.append(f"-u {_double_quoted(client_id() + ':' + client_secret())}")
        elif kind in ("http", "oauth2") and (scheme_name == "bearer" or kind == "oauth2"):
            headers.append('"Authorization: Bearer $TOKEN"')
        elif kind == "apiKey" and scheme.get("in") == "header":
            name = scheme.get("name", "")
            value = sandbox_key() if name.lower() == "x-sandbox-key" else _placeholder(name)
            headers.append(_double_quoted(f"{name}: {value}"))
    return basic, headers


def _fresh_uuid() -> str:
    return "$(uuidgen)"


# Header parameters whose value the console knows: the demo partner's id, or a fresh uuid per call.
_KNOWN_HEADER_VALUES = {"client_id": lambda: client_id(), "uuid": _fresh_uuid, "idempotency-key": _fresh_uuid}


def _parameter_headers(parameters: list[Parameter], *, bearer_present: bool) -> list[str]:
    """The required header parameters (and Idempotency-Key), with known values or placeholders."""
    headers: list[str] = []
    for parameter in parameters:
        lowered = parameter.name.lower()
        if parameter.location != "header" or not (parameter.required or lowered == "idempotency-key"):
            continue
        if lowered == "accept":
            continue
        if lowered == "authorization":
            if not bearer_present:
                headers.append('"Authorization: Bearer $TOKEN"')
            continue
        if lowered in _KNOWN_HEADER_VALUES:
            value = _KNOWN_HEADER_VALUES[lowered]()
        else:
            value = str(parameter.example) if parameter.example is not None else _placeholder(parameter.name)
        headers.append(_double_quoted(f"{parameter.name}: {value}"))
    return headers


def _body_lines(content_type: str, example: Any) -> list[str]:
    """-d lines for the example body: one per field for a form, else one JSON document with its Content-Type."""
    if example is None or not content_type:
        return []
    if content_type == "application/x-www-form-urlencoded" and isinstance(example, dict):
        return [f"-d {shlex.quote(f'{key}={value}')}" for key, value in example.items()]
    body = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False)
    return [f"-H {shlex.quote('Content-Type: ' + content_type)}", f"-d {shlex.quote(body)}"]


def _demo() -> bool:
    """Only the demo's well-known secrets are printed; elsewhere the reader fills them in."""
    return current_app.config["ENV"] == "demo"


def client_id() -> str:
    return current_app.config["PARTNER_CLIENT_ID"]


def client_secret() -> str:
    return current_app.config["PARTNER_CLIENT_SECRET"] if _demo() else "$CLIENT_SECRET"


def sandbox_key() -> str:
    return current_app.config["SANDBOX_KEY"] if _demo() else "$SANDBOX_KEY"


def _double_quoted(text: str) -> str:
    """Double quotes, so $TOKEN and $(uuidgen) expand, with anything else special escaped."""
    escaped = re.sub(r'(["\\`])', r"\\\1", text)
    return f'"{escaped}"'


def operations(document: dict[str, Any], base_url: str) -> list[Operation]:
    """Every operation of the document, in the document's path order."""
    found: list[Operation] = []
    paths = document.get("paths", {})
    for path, item in paths.items() if isinstance(paths, dict) else []:
        item = _resolve(document, item)
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            parameters = [_parameter(document, p) for p in [*shared, *operation.get("parameters", [])]]
            parameters = [p for p in parameters if p is not None]
            content_type, request_example = "", None
            body = _resolve(document, operation.get("requestBody", {}))
            if isinstance(body, dict) and isinstance(body.get("content"), dict) and body["content"]:
                content_type = next(iter(body["content"]))
                request_example = _example_of(document, body["content"][content_type])
            responses, error_codes = _responses(document, operation)
            anchor = re.sub(r"[^a-z0-9]+", "-", f"{method}-{path}".lower()).strip("-")
            found.append(
                Operation(
                    anchor=operation.get("operationId")
                    and re.sub(r"[^A-Za-z0-9_-]", "-", operation["operationId"])
                    or anchor,
                    method=method.upper(),
                    path=path,
                    summary=str(operation.get("summary", "")),
                    description=str(operation.get("description", "")),
                    tag=str((operation.get("tags") or ["Other"])[0]),
                    parameters=parameters,
                    request_content_type=content_type,
                    request_example=_pretty(request_example),
                    responses=responses,
                    error_codes=error_codes,
                    curl=build_curl(
                        base_url,
                        method,
                        path,
                        parameters,
                        _security_kinds(document, operation),
                        content_type,
                        request_example,
                    ),
                )
            )
    return found


def _parameter(document: dict[str, Any], node: Any) -> Parameter | None:
    node = _resolve(document, node)
    if not isinstance(node, dict) or "name" not in node:
        return None
    schema = _resolve(document, node.get("schema", {}))
    example = node.get("example")
    if example is None and isinstance(schema, dict):
        example = schema.get("example")
    return Parameter(
        name=str(node["name"]),
        location=str(node.get("in", "")),
        required=bool(node.get("required", False)),
        type=_schema_type(document, schema),
        description=str(node.get("description", "")),
        example=example,
    )


def _responses(document: dict[str, Any], operation: dict[str, Any]) -> tuple[list[ResponseDoc], list]:
    responses: list[ResponseDoc] = []
    error_codes: list[tuple[str, str, str]] = []
    for status, response in (operation.get("responses") or {}).items():
        response = _resolve(document, response)
        if not isinstance(response, dict):
            continue
        description = str(response.get("description", ""))
        example, pairs = None, []
        content = response.get("content") or {}
        if isinstance(content, dict) and content:
            media = content.get("application/json") or next(iter(content.values()))
            example = _example_of(document, media)
            for value in _all_examples(document, media) or ([example] if example is not None else []):
                pairs += _codes_in(value)
        for extra in ("x-error-codes", "x-codes"):
            listed = response.get(extra)
            if isinstance(listed, list):
                pairs += [
                    (str(item.get("code")), str(item.get("details", ""))) if isinstance(item, dict) else (str(item), "")
                    for item in listed
                ]
        pairs = list(dict.fromkeys(pairs))
        responses.append(ResponseDoc(str(status), description, _pretty(example), [code for code, _ in pairs]))
        if str(status)[:1] in ("4", "5"):
            error_codes += [(str(status), code, details or description) for code, details in pairs] or [
                (str(status), "", description)
            ]
    return responses, list(dict.fromkeys(error_codes))


def card_table() -> list[dict[str, str]]:
    """The seed's test cards as table rows (the 'other bank' card last)."""
    rows = [
        {
            "number": seed.format_card_number(card.number),
            "holder": card.holder,
            "mobile": f"{card.phone[:4]} {card.phone[4:]}",
            "points": points(card.points),
            "behaviour": card.behaviour,
        }
        for card in seed.TEST_CARDS
    ]
    number, behaviour = seed.OTHER_BANK_TEST_CARD
    rows.append(
        {
            "number": seed.format_card_number(number),
            "holder": _("any"),
            "mobile": "—",
            "points": "—",
            "behaviour": behaviour,
        }
    )
    return rows


@bp.get("/reference")
@login_required
def reference():
    document = openapi_document()
    base_url = request.host_url.rstrip("/")
    token_curl = (
        "TOKEN=$(curl -sS -u "
        + _double_quoted(f"{client_id()}:{client_secret()}")
        + " -d grant_type=client_credentials -d scope=/api \\\n  "
        + _double_quoted(f"{base_url}/gcb/api/clientCredentials/oauth2/token/hk/gcb")
        + " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    ops = operations(document, base_url)
    tags: dict[str, list[Operation]] = {}
    for operation in ops:
        tags.setdefault(operation.tag, []).append(operation)
    info = document.get("info", {}) if isinstance(document.get("info"), dict) else {}
    return render_template(
        "issuer/reference.html",
        info=info,
        tags=tags,
        operation_count=len(ops),
        base_url=base_url,
        token_curl=token_curl,
        cards=card_table(),
        inline_code=inline_code,
        text=document_text,
        location=location,
        sandbox_key=sandbox_key(),
        client_id=client_id(),
        client_secret=client_secret(),
    )
