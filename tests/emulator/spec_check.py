"""Check API responses against Neon's official OpenAPI document.

The spec is OpenAPI 3.0, whose schema dialect is JSON Schema draft 4 plus
`nullable`. We turn `nullable: true` into an explicit null alternative and
validate with jsonschema's Draft4Validator, resolving `$ref`s into the spec's
own `#/components/...`. Two checks jsonschema does not do on its own:
  - formats used by the spec (date-time, uuid, int32, int64) are enforced;
  - `unknown_fields` reports properties the emulator returns that the
    spec's schema does not declare (typos, invented fields).
"""

import copy
import re

import jsonschema
import yaml

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _format_checker():
    fc = jsonschema.FormatChecker(formats=())

    @fc.checks("date-time")
    def _dt(value):
        return not isinstance(value, str) or bool(RFC3339.match(value))

    @fc.checks("uuid")
    def _uuid(value):
        return not isinstance(value, str) or bool(UUID.match(value))

    @fc.checks("int32")
    def _i32(value):
        return not isinstance(value, int) or -2 ** 31 <= value < 2 ** 31

    @fc.checks("int64")
    def _i64(value):
        return not isinstance(value, int) or -2 ** 63 <= value < 2 ** 63

    return fc


def _denullable(node):
    """OpenAPI 3.0 `nullable: true` -> JSON Schema draft 4."""
    if isinstance(node, list):
        return [_denullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _denullable(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, path):
        with open(path) as f:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            raw = yaml.load(f, Loader=loader)
        self.raw = raw
        self.doc = {"components": _denullable(copy.deepcopy(raw["components"]))}
        self.resolver = jsonschema.RefResolver.from_schema(self.doc)
        self.formats = _format_checker()
        self.templates = []
        for template, item in raw["paths"].items():
            rx = re.compile("^" + "/".join("[^/]+" if seg.startswith("{") else re.escape(seg)
                                           for seg in template.split("/")) + "$")
            literal = len([s for s in template.split("/") if s and not s.startswith("{")])
            self.templates.append((template, rx, literal, item))

    # -- lookups ----------------------------------------------------------
    def template_for(self, path):
        found = [(lit, t, item) for t, rx, lit, item in self.templates if rx.match(path)]
        if not found:
            return None, None
        found.sort(key=lambda x: -x[0])
        return found[0][1], found[0][2]

    def _deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = self.raw
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def response_schema(self, method, path, status):
        """(schema or None, description). Raises AssertionError when the spec
        documents no such operation or a 2xx status it does not list."""
        template, item = self.template_for(path)
        assert template is not None, "the spec has no path matching %s" % path
        op = item.get(method.lower())
        assert op is not None, "the spec has no %s %s" % (method, template)
        responses = {str(k): v for k, v in op["responses"].items()}
        key = str(status)
        if key not in responses:
            assert status >= 400, "%s %s: the spec does not list status %s (it lists %s)" % (
                method, template, status, sorted(responses))
            key = "default"
        resp = self._deref(responses[key])
        content = (resp.get("content") or {}).get("application/json")
        where = "%s %s -> %s" % (method, template, key)
        if content is None:
            return None, where
        return _denullable(copy.deepcopy(content["schema"])), where

    def component(self, name):
        return {"$ref": "#/components/schemas/" + name}

    # -- validation -------------------------------------------------------
    def errors(self, schema, instance):
        v = jsonschema.Draft4Validator(schema, resolver=self.resolver, format_checker=self.formats)
        return sorted(("%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "<root>", e.message))
                      for e in v.iter_errors(instance))

    def unknown_fields(self, schema, instance, where="<root>"):
        """Properties present in @instance that @schema does not declare."""
        out = []
        schema = self._resolve(schema)
        if isinstance(instance, dict):
            props, extra = self._properties(schema)
            for k, v in instance.items():
                if k in props:
                    for sub in props[k]:
                        out += self.unknown_fields(sub, v, where + "/" + k)
                elif extra is not None:
                    out += self.unknown_fields(extra, v, where + "/" + k)
                elif props:
                    out.append(where + "/" + k)
        elif isinstance(instance, list):
            items = schema.get("items")
            if items is not None:
                for i, v in enumerate(instance):
                    out += self.unknown_fields(items, v, "%s/%d" % (where, i))
        return out

    def _resolve(self, schema):
        schema = self._deref(schema) if isinstance(schema, dict) else schema
        return schema if isinstance(schema, dict) else {}

    def _properties(self, schema):
        """{name: [subschemas]} and the additionalProperties schema (or None)."""
        props, extra = {}, None
        parts = [schema]
        while parts:
            s = self._resolve(parts.pop())
            for k, v in (s.get("properties") or {}).items():
                props.setdefault(k, []).append(v)
            ap = s.get("additionalProperties")
            if isinstance(ap, dict):
                extra = ap
            for key in ("allOf", "anyOf", "oneOf"):
                parts.extend(s.get(key) or [])
        return props, extra

    def check(self, method, path, status, body):
        """All problems of one response, as a list of strings (empty: valid)."""
        schema, where = self.response_schema(method, path, status)
        if schema is None:
            return [] if body is None else ["%s: the spec defines no body, got %r" % (where, body)]
        if body is None:
            return ["%s: expected a JSON body" % where]
        problems = ["%s: %s" % (where, e) for e in self.errors(schema, body)]
        problems += ["%s: field not in the spec: %s" % (where, f) for f in self.unknown_fields(schema, body)]
        return problems

    def check_component(self, name, obj):
        schema = self.component(name)
        return self.errors(schema, obj) + ["not in the spec: " + f for f in self.unknown_fields(schema, obj)]
