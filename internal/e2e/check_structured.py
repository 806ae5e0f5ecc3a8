"""Judges structured outputs with tools we didn't write: jsonschema for a
JSON schema, Python's re.fullmatch for a regex, equality for a choice.

Usage: python check_structured.py < rows.jsonl
Reads {"id", "text", "json" | "regex" | "choice"} a line and prints one line
per output that breaks its constraint (nothing when all hold).
"""

import json
import re
import sys

import jsonschema

for line in sys.stdin:
    r = json.loads(line)
    problem = None
    if "json" in r:
        try:
            jsonschema.validate(json.loads(r["text"]), json.loads(r["json"]))
        except (ValueError, jsonschema.ValidationError) as e:
            problem = f"not JSON of the schema: {str(e).splitlines()[0]}"
    elif "regex" in r:
        if not re.fullmatch(r["regex"], r["text"]):
            problem = f"does not match {r['regex']}"
    elif r["text"] not in r["choice"]:
        problem = f"not one of {r['choice']}"
    if problem:
        print(f"id {r['id']}: {json.dumps(r['text'])} {problem}")
